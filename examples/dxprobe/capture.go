package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// fileError is a -r file that cannot be read as a capture: one line, exit
// status 1.
type fileError struct{ msg string }

func (e fileError) Error() string { return e.msg }

// captureMagics are the first four bytes of the files -r reads: pcap in
// either byte order, with microsecond or nanosecond timestamps, and
// pcapng's section header block.
var captureMagics = [][]byte{
	{0xa1, 0xb2, 0xc3, 0xd4}, {0xd4, 0xc3, 0xb2, 0xa1}, // pcap, µs
	{0xa1, 0xb2, 0x3c, 0x4d}, {0x4d, 0x3c, 0xb2, 0xa1}, // pcap, ns
	{0x0a, 0x0d, 0x0d, 0x0a}, // pcapng
}

// checkCapture reads f's first bytes and rewinds it: a file that is not a
// pcap or pcapng file is a fileError naming it.
func checkCapture(f *os.File, name string) error {
	var magic [4]byte
	n, err := io.ReadFull(f, magic[:])
	if _, serr := f.Seek(0, io.SeekStart); serr != nil {
		return fileError{fmt.Sprintf("-r %q: cannot read it from the start: %v", name, serr)}
	}
	if err != nil {
		return fileError{fmt.Sprintf("-r %q: not a pcap or pcapng file (%d bytes long)", name, n)}
	}
	for _, m := range captureMagics {
		if bytes.Equal(magic[:], m) {
			return nil
		}
	}
	return fileError{fmt.Sprintf("-r %q: not a pcap or pcapng file (write one with tcpdump -w or tshark -w)", name)}
}

// pathError is err without the operation and path that the caller's
// message already names ("open x: no such file or directory" → "no such
// file or directory").
func pathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
