"""AECF Explorer — entry point: `streamlit run app.py`. Navigation only; each page is in pages/."""

import streamlit as st

st.set_page_config(page_title="AECF Explorer", page_icon="🧭", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/explore.py", title="Explore one example", icon=":material/science:"),
    st.Page("pages/subsets.py", title="Subsets & calibration", icon=":material/account_tree:"),
    st.Page("pages/curriculum.py", title="Curriculum masking", icon=":material/masks:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/lessons.py", title="Lessons", icon=":material/school:"),
]

st.navigation(PAGES).run()
