"""An AWS Gateway Load Balancer emulator (docs/gwlb-emulator.md).

packet    GENEVE with the GWLB options, flow keys of inner IPv4 packets
balancer  targets, flows, stickiness, health states, failover (no sockets)
health    TCP and HTTP health checks, one thread per target
cli       the program: `run` (the load balancer), `ctl`, `reflect`
"""
