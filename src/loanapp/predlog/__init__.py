"""The prediction log: every decision a predict-API worker makes, as gzip JSON lines.

The layout, under the log's folder (or bucket prefix)::

    model=<name>/date=<YYYY-MM-DD>/predictions-<host>-<pid>-<opened>-<n>.jsonl.gz

One writer per worker process (the host and PID in the name), so no two processes write one file.
A file is written as `<name>.part` and renamed into place when finished (by size, age, a new day,
or the worker's stop), so a reader globbing `*.jsonl.gz` sees only whole files. One line per row:
`time`, `request_id`, `model`, `model_version`, `row` (its place in the request), `input` (the
validated features), `p_bad`, `decision` (approve or decline) and `reasons` of a decline.

`log` holds the queue and the thread (`PredictionLog`), `files` the rotation, `records` the lines,
`shipping` the upload of finished files to an object store, `reading` what `loanapp monitor` reads.
"""
