"""labkit: the namespace labs' framework, shared by every scenario (one
node, a pair, N nodes, nodes behind the load balancer emulator).

- `checks`: `Check` (one verdict, n/a and optional), `Checklist` (a
  standalone script's checks), `Section` and `Report` (a runner's checks
  grouped by step, its summary and JSON);
- `report`: counter deltas and lines, the JSON file, saved artifacts;
- `runner`: `LabRun`, one run from preflight to the RESULT line (skip,
  signals, watchdog, deadline, errors, exit code), `run_variants` (start a
  multi-node lab per variant, run the body, stop the nodes) and
  `run_standalone` (a script with its own checklist);
- `options`: the command-line options every runner shares;
- `topology`: the pieces every multi-node topology builds with (routers,
  endpoints, switch bridges, the peer link kept from the node's kernel,
  CURVE keys);
- `ha`: reading `show high-availability state`;
- `services`: a round of work asked of a running traffic service (the idle
  connections used once).

The topologies themselves are `lab.py` (namespaces, processes, the
single-node lab), `pair.py` (with the scenario steps the multi-node tests
share: storms, long-lived and idle connections, failover and revert),
`cluster.py`, `geneve_lab.py` and `geneve_cluster.py`; nodes are
`nodes.py`; traffic is what `traffic.py` and its command modules run
inside the namespaces (README.md, "Layout").
"""
