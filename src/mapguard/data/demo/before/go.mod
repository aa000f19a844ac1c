module example.com/riskd

go 1.22
