package iam

import (
	"net/http"
	"strconv"
	"testing"
)

// Forget deletes under only the read lock: two requests hold it together. A fresh system per
// round, with a user for each goroutine to forget.
func TestRaceForgetUnderReadLock(t *testing.T) {
	for round := 0; round < 8; round++ {
		sys := NewSystem()
		sys.users["u0"], sys.users["u1"] = "s0", "s1"
		forget := http.HandlerFunc(sys.Forget)
		raceHammer(2, func(g int) {
			raceServe(forget, http.MethodPost, "/forget?name=u"+strconv.Itoa(g))
		})
	}
}

// The writes through the lock()/unlock() wrappers exclude each other and the reader.
func TestCleanWritesThroughLockWrappers(t *testing.T) {
	sys := NewSystem()
	addUser, setPolicy := http.HandlerFunc(sys.AddUser), http.HandlerFunc(sys.SetPolicy)
	policies := http.HandlerFunc(sys.Policies)
	raceHammer(4, func(g int) {
		name := "u" + strconv.Itoa(g%2)
		for i := 0; i < 5; i++ {
			raceServe(addUser, http.MethodPost, "/users?name="+name+"&secret=s")
			raceServe(setPolicy, http.MethodPost, "/policies?name="+name+"&policy=read")
			raceServe(policies, http.MethodGet, "/policies?name="+name)
		}
	})
	if got := len(sys.policies["u0"]) + len(sys.policies["u1"]); got != 4*5 {
		t.Errorf("%d policies recorded, want %d", got, 4*5)
	}
}
