// Command example stores and queries messages the way a node's store does,
// through the Go binding: keys (topic, timestamp, hash) encoded like
// upstream keys.nim, an atomic batch, a paginated scan of one topic, a
// batched lookup by hash and the job's stats.
//
//	scripts/build.sh             # once, from the repository root
//	cd bindings/go && go run ./example [root-dir]
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"persistency"
)

// message is the key of one stored message: its fields, in order, are the
// key's parts, so messages of a topic sort by time.
type message struct {
	Topic     string
	Timestamp int64
	Hash      [32]byte
}

func main() {
	root := os.TempDir() + "/persistency-go-example"
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	if err := run(root); err != nil {
		log.Fatal(err)
	}
}

func run(root string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	persistency.SetLogger(func(level int, msg string) {
		log.Printf("persistency[%d]: %s", level, msg)
	}, persistency.LogWarn)
	defer persistency.SetLogger(nil, 0)

	inst, err := persistency.Open(root)
	if err != nil {
		return err
	}
	defer inst.Close()
	// Start from scratch on every run.
	if err := inst.DropJob("store"); err != nil {
		return err
	}
	job, err := inst.OpenJob("store", &persistency.JobOptions{Synchronous: persistency.SyncNormal})
	if err != nil {
		return err
	}

	const topic = "/waku/2/rs/1/0"
	var ops []persistency.Op
	var hashes [][]byte
	for i := 0; i < 10; i++ {
		payload := []byte(fmt.Sprintf("message %d", i))
		m := message{Topic: topic, Timestamp: 1_700_000_000 + int64(i), Hash: sha256.Sum256(payload)}
		key, err := persistency.EncodeKey(m)
		if err != nil {
			return err
		}
		ops = append(ops, persistency.PutOp("messages", key, payload))
		// A secondary index: hash -> message key.
		hashKey, err := persistency.EncodeKey(m.Hash[:])
		if err != nil {
			return err
		}
		ops = append(ops, persistency.PutOp("by_hash", hashKey, key))
		hashes = append(hashes, hashKey)
	}
	// One atomic transaction; returns once committed.
	if err := job.Write(ctx, ops); err != nil {
		return err
	}

	// The newest messages of the topic, three per page.
	topicPrefix, err := persistency.NewKey().Str(topic).Key()
	if err != nil {
		return err
	}
	r := persistency.PrefixRange(topicPrefix)
	r.Reverse, r.Limit = true, 3
	shown := 0
	err = job.ForEach(ctx, "messages", r, func(row persistency.Row) error {
		fmt.Printf("newest %d: %s\n", shown+1, row.Value)
		if shown++; shown == 5 {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}

	// Two message keys by hash, in one request.
	rows, err := job.GetMany(ctx, "by_hash", [][]byte{hashes[7], hashes[2]})
	if err != nil {
		return err
	}
	for _, row := range rows {
		payload, found, err := job.Get(ctx, "messages", row.Value)
		if err != nil {
			return err
		}
		fmt.Printf("by hash %x...: %s (found %v)\n", row.Key[2:6], payload, found)
	}

	n, err := job.Count(ctx, "messages", topicPrefix, persistency.PrefixStop(topicPrefix))
	if err != nil {
		return err
	}
	stats, err := job.Stats()
	if err != nil {
		return err
	}
	fmt.Printf("%d messages on %s; stats %+v; library %s\n", n, topic, stats, persistency.Version())
	return nil
}

// errStop ends the ForEach early.
var errStop = errors.New("stop")
