// A pull linkname to runtime.mapassign_faststr, one of the few map entry points the runtime
// keeps allowed because widely used packages pull it (go.dev/issue/67401).
package main

import (
	"fmt"
	"unsafe"
)

//go:linkname mapassign_faststr runtime.mapassign_faststr
func mapassign_faststr(t, m unsafe.Pointer, key string) unsafe.Pointer

func main() { fmt.Println(mapassign_faststr != nil) }
