// groups: a franz-go consumer group member (kgo, cooperative-sticky by default) for
// test_groups.py: consumes COUNT records from the beginning, commits them, leaves the group, and
// prints one value per line. Exit status 1 on any error or timeout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", "", "bootstrap servers")
	topic := flag.String("topic", "", "topic")
	group := flag.String("group", "", "group id")
	count := flag.Int("count", 0, "records to consume")
	flag.Parse()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.ConsumerGroup(*group),
		kgo.ConsumeTopics(*topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := 0
	for got < *count {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "timed out after", got, "records")
			os.Exit(1)
		}
		fetches.EachError(func(t string, p int32, err error) {
			fmt.Fprintln(os.Stderr, "fetch error", t, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			fmt.Println(string(r.Value))
			got++
		})
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "commit:", err)
		os.Exit(1)
	}
	cl.LeaveGroup()
	cl.Close()
}
