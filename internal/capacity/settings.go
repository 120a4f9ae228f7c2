package capacity

import (
	"fmt"
	"math"
)

// Order is which waiting request a freed worker takes.
type Order string

// The orders of the queue.
const (
	FIFO Order = "fifo" // the oldest waiter first
	LIFO Order = "lifo" // the newest waiter first, as Facebook's adaptive LIFO does under load
)

// Bounds of the settings: beyond them a value is a mistake, not a model.
const (
	MaxWorkers = 100_000
	MaxQueue   = 1_000_000
	MaxFactor  = 100.0
)

// Settings are what a Pool does. They can change while it runs (Pool.Update).
type Settings struct {
	Workers     int         // requests in service at once; 0 = unlimited (nobody waits)
	Queue       int         // requests that may wait for a worker; more are rejected
	Order       Order       // which waiter a freed worker takes
	ServiceTime ServiceTime // the work of one request: a wait while it holds its worker
	Factor      float64     // multiplies every drawn service time (1 = as drawn)
}

// CheckWorkers says what is allowed when n is not a number of workers.
func CheckWorkers(n int) error {
	if n < 0 || n > MaxWorkers {
		return fmt.Errorf("must be a whole number from 0 (unlimited) to %d", MaxWorkers)
	}
	return nil
}

// CheckQueue says what is allowed when n is not a queue length.
func CheckQueue(n int) error {
	if n < 0 || n > MaxQueue {
		return fmt.Errorf("must be a whole number from 0 (nobody waits) to %d", MaxQueue)
	}
	return nil
}

// CheckFactor says what is allowed when f is not a service time factor.
func CheckFactor(f float64) error {
	if math.IsNaN(f) || f <= 0 || f > MaxFactor {
		return fmt.Errorf("must be a number greater than 0 and at most %g", MaxFactor)
	}
	return nil
}

// Validate reports the first setting out of its bounds, named as PUT /api/capacity names it.
func (s Settings) Validate() error {
	if err := CheckWorkers(s.Workers); err != nil {
		return fmt.Errorf("workers: %w", err)
	}
	if err := CheckQueue(s.Queue); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	if s.Order != FIFO && s.Order != LIFO {
		return fmt.Errorf("queue_order: must be %s or %s", FIFO, LIFO)
	}
	if err := CheckFactor(s.Factor); err != nil {
		return fmt.Errorf("service_time_factor: %w", err)
	}
	return nil
}
