module example.com/watchsim

go 1.22
