package persistency

// This file holds Iterator and ForEach, which page through a Range of any
// size with one Scan per page.

import "context"

// DefaultPageSize is the page size of Iterate and ForEach when Range.Limit
// is 0.
const DefaultPageSize = 256

// Iterator pages through a range of any size with bounded memory, one Scan
// of at most the page size at a time, in the style of bufio.Scanner:
//
//	it := job.Iterate(ctx, "messages", persistency.PrefixRange(topic))
//	for it.Next() {
//		use(it.Row())
//	}
//	if err := it.Err(); err != nil { ... }
//
// Each page is one blocking Scan (a plain cgo call, no callback): a
// consistent snapshot that sees every write accepted before the Next call
// that fetched it. An Iterator holds no C resource and no snapshot between
// pages, so leaving the loop early needs no Close and costs nothing. An
// Iterator is for one goroutine.
type Iterator struct {
	ctx      context.Context
	job      *Job
	category string
	rng      Range
	page     []Row
	next     int
	row      Row
	done     bool
	err      error
}

// Iterate returns an iterator over r (r.Limit is the page size).
func (j *Job) Iterate(ctx context.Context, category string, r Range) *Iterator {
	if r.Limit == 0 {
		r.Limit = DefaultPageSize
	}
	return &Iterator{ctx: ctx, job: j, category: category, rng: r}
}

// Next advances to the next row, fetching a page when needed. It returns
// false at the end of the range or on an error (see Err).
func (it *Iterator) Next() bool {
	for it.next >= len(it.page) {
		if it.done || it.err != nil {
			return false
		}
		it.fetch()
	}
	it.row = it.page[it.next]
	it.next++
	return true
}

// fetch reads the next page and moves the range past it: ascending, the
// new start is the last key with 0x00 appended (the least key after it);
// descending, the last key becomes the exclusive stop.
func (it *Iterator) fetch() {
	rows, more, err := it.job.Scan(it.ctx, it.category, it.rng)
	if err != nil {
		it.err = err
		it.page = nil
		return
	}
	it.page, it.next = rows, 0
	if !more || len(rows) == 0 {
		it.done = true
		return
	}
	last := rows[len(rows)-1].Key
	if it.rng.Reverse {
		if len(last) == 0 {
			// The empty key is the least key: nothing is below it (and an
			// empty stop would mean "no bound").
			it.done = true
			return
		}
		it.rng.Stop = last
	} else {
		it.rng.Start = append(append(make([]byte, 0, len(last)+1), last...), 0)
	}
}

// Row returns the current row. Its slices belong to the caller.
func (it *Iterator) Row() Row {
	return it.row
}

// Err returns the error that stopped the iteration, or nil at the end of
// the range.
func (it *Iterator) Err() error {
	return it.err
}

// ForEach calls fn for every row of r in order, fetching pages of r.Limit
// rows (0 = DefaultPageSize). It stops at the first error fn returns and
// returns that error.
func (j *Job) ForEach(ctx context.Context, category string, r Range, fn func(Row) error) error {
	if fn == nil {
		return newError(StatusInvalidArgument, "nil ForEach function")
	}
	it := j.Iterate(ctx, category, r)
	for it.Next() {
		if err := fn(it.Row()); err != nil {
			return err
		}
	}
	return it.Err()
}
