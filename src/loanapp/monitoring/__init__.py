"""Model monitoring: the training profile stored with a version, and the drift of logged rows.

`profile` describes the training data at training time (light: numpy and pydantic); `drift`
computes the population stability index of logged rows against it; `report` renders the result
as a table, JSON or an HTML page. `loanapp monitor` (loanapp.cli.monitor) runs them.
"""
