package reuseport

import "time"

// SetReadDeadline makes a Read in progress, and later ones, return an error
// wrapping os.ErrDeadlineExceeded at t; the zero time removes the deadline.
// It may be called from any goroutine. A worker uses it to wake at its
// window's end when no packet comes. In WaitBlocking mode a read blocked in
// recvmmsg sees the deadline within 50 ms (its SO_RCVTIMEO).
func (r *Reader) SetReadDeadline(t time.Time) error {
	r.noteDeadline(t)
	if r.conn == nil { // WaitTick: readTick sleeps to the deadline
		return nil
	}
	return r.conn.SetReadDeadline(t)
}
