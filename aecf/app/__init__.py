"""The app's view-models: what each page shows, as pure functions and dataclasses over the library.

Pages (pages/*.py) hold the widgets; they call one function here per view and render what it returns.
Nothing in this package knows the UI toolkit, so every page's logic is tested without a browser or a server.

    checkpoints   which checkpoints can be explored, loading one
    explore       one example through a model and a baseline (the Explore page)
    samples       the demo inputs in assets/samples/
    state         the Explore view <-> URL query parameters (share links)
    results       results JSONs for the Subsets page
    masking       ACM's schedule and a mask simulator (the Curriculum page)
    training      the Train page's knobs, one background run per server, curves
    teaching      equations for the teaching boxes, from docs/method.md
    problems      any exception -> a message for a person
"""
