package reuseport

import "time"

// SetReadDeadline makes a Read in progress, and later ones, return an error
// wrapping os.ErrDeadlineExceeded at t; the zero time removes the deadline.
// It may be called from any goroutine. A worker uses it to wake at its
// window's end when no packet comes. In WaitBlocking mode the deadline is
// not seen by a read already blocked in recvmmsg; use WaitNetpoll where
// deadlines matter.
func (r *Reader) SetReadDeadline(t time.Time) error { return r.conn.SetReadDeadline(t) }
