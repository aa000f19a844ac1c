package ledger

import (
	"context"
	"testing"

	pb "example.com/corpus/mg004_grpc_method/ledgerpb"
)

// grpc-go calls a service's methods from a goroutine per call; raceHammer does the same with
// the one registered Server. Each round starts from fresh maps, so every write gets its own
// chance to be named (the detector reports one race per memory location).

type watchStream struct{ pb.Ledger_WatchServer }

func (watchStream) Send(*pb.Balance) error { return nil }

func TestRaceDeposit(t *testing.T) {
	for round := 0; round < 6; round++ {
		balances, audit = map[string]int64{}, map[string]int{}
		s := New()
		raceHammer(2, func(g int) {
			_, _ = s.Deposit(context.Background(), &pb.Entry{Account: "a", Amount: 1})
		})
	}
}

func TestRaceRate(t *testing.T) {
	for round := 0; round < 6; round++ {
		rates = nil
		s := New()
		raceHammer(2, func(g int) { _, _ = s.Rate(context.Background(), &pb.Entry{}) })
	}
}

func TestRaceWatch(t *testing.T) {
	for round := 0; round < 6; round++ {
		balances = map[string]int64{"a": 1, "b": 2}
		s := New()
		raceHammer(2, func(g int) {
			_ = s.Watch(&pb.Entry{Account: "a"}, watchStream{})
		})
	}
}

// The same calls done right: Close holds the lock around its write.
func TestCleanClose(t *testing.T) {
	s := New()
	raceHammer(4, func(g int) {
		_, _ = s.Close(context.Background(), &pb.Entry{Account: "a"})
	})
}
