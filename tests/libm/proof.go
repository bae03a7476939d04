// The Go proof: prints the digest of trExp and trExpf over the sample of proof.c (`proof sum`).
// tests/test_libm.py puts the rendered templates/go/libm.j2 where the marker line is.
package main

import (
	"fmt"
	"math"
	"os"
	"strconv"
)

// LIBM

var rngState uint64

func nextU64() uint64 {
	rngState += 0x9e3779b97f4a7c15
	z := rngState
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

var lo = [3]uint64{0x3c3, 0x3ff, 0x3f5}
var span = [3]uint64{74, 10, 15}

func sample(i uint64) float64 {
	u := nextU64()
	u = (u & 0x800fffffffffffff) | ((lo[i%3] + (u>>52)%span[i%3]) << 52)
	return math.Float64frombits(u)
}

func sampleF() float32 {
	u := nextU64()
	b := (uint32(u) & 0x807fffff) | uint32((0x61+(u>>40)%38)<<23)
	return math.Float32frombits(b)
}

func main() {
	n, _ := strconv.ParseUint(os.Args[1], 10, 64)
	rngState, _ = strconv.ParseUint(os.Args[2], 10, 64)
	var digest uint64
	for i := uint64(0); i < n; i++ {
		x := sample(i)
		xf := sampleF()
		digest = (digest ^ math.Float64bits(trExp(x))) * 0x100000001b3
		digest = (digest ^ uint64(math.Float32bits(trExpf(xf)))) * 0x100000001b3
	}
	fmt.Printf("digest %016x\n", digest)
}
