// Package capacity models a server's finite capacity: a number of workers, a bounded queue of
// requests waiting for one (served first in, first out or last in, first out), and a service
// time drawn from a distribution that each request spends holding its worker. The service time
// is a wait, never a CPU burn, so a laptop can model a slow server. It counts what becomes of
// every request: completed, wasted (served for a caller that had gone), rejected (queue full)
// and expired (dropped from the queue past its deadline).
package capacity
