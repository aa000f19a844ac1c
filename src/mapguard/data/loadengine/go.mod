module mapguard.dev/loadengine

go 1.22
