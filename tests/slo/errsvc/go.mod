module errsvc

go 1.21
