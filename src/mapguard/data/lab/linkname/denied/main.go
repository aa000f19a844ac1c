// A pull linkname to a runtime map internal that the runtime does not mark as allowed
// (runtime.mapclear): since Go 1.23 the linker refuses it.
package main

import (
	"fmt"
	"unsafe"
)

//go:linkname mapclear runtime.mapclear
func mapclear(t, m unsafe.Pointer)

func main() { fmt.Println(mapclear != nil) }
