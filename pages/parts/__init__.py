"""Streamlit-only helpers of the pages: cached resources, the shared look, the Explore view's render parts.

A subfolder of pages/ is never a page: app.py lists its pages with st.navigation, and Streamlit's legacy
pages/ discovery reads only pages/*.py (not subfolders). Logic belongs in aecf/app/, not here.
"""
