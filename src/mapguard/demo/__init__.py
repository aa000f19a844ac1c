"""`mapguard demo`: every stage of mapguard on riskd, the Go service shipped in the package.

`command` runs the stages and reports them; `service` builds and runs riskd; `evidence` measures
map bytes and GC (profiled runs); `latency` measures request latency under load and CPU quota
steps (unprofiled runs).
"""
