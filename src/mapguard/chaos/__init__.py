"""`mapguard chaos`: CPU quota steps (cgroup v1/v2), stress-ng, Chaos Mesh manifests."""
