package connpool

import "testing"

func TestCleanCompareAndSwapInit(t *testing.T) {
	d := &Dialer{}
	raceHammer(4, func(g int) {
		Default()
		Transport()
		Limit("example.com")
		d.Timeout()
	})
}
