import marimo

__generated_with = "0.25.2"
app = marimo.App(
    width="medium",
    app_title="numdl: numerical computation for deep learning",
)


@app.cell(hide_code=True)
def _():
    import marimo as mo

    from numdl.exercises import ProgressStore, exercises_for
    from numdl.tutorial.catalog import CHAPTERS
    from numdl.tutorial.widgets import home_table

    return CHAPTERS, ProgressStore, exercises_for, home_table, mo


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # numdl: numerical computation for deep learning

    Deep learning runs on real-number mathematics executed in finite precision.
    Most of the time the difference is invisible; sometimes it turns a loss into
    `nan`, a probability into `0`, or a training run into one that looks converged
    while learning nothing. Each chapter below is a set of live experiments: move a
    control and watch a naive formula fail while its stable counterpart holds, then
    prove you can tell them apart in graded exercises.

    Work through the chapters in order; each builds on the ones before it.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    refresh = mo.ui.button(value=0, on_click=lambda n: n + 1, label="Refresh progress")
    refresh
    return (refresh,)


@app.cell(hide_code=True)
def _(CHAPTERS, ProgressStore, exercises_for, home_table, refresh):
    refresh
    store = ProgressStore()
    home_table(CHAPTERS, store, exercises_for)
    return (store,)


@app.cell(hide_code=True)
def _(mo, store):
    mo.md(
        f"""
        Your progress is saved in `{store.path}` (set `NUMDL_HOME` to keep it elsewhere;
        `numdl progress --reset` forgets it). Exercises run your code in a separate
        process with time and memory limits, so a runaway answer cannot stall the
        tutorial.
        """
    )
    return


if __name__ == "__main__":
    app.run()
