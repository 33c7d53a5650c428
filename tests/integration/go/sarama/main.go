// sarama: a Sarama (IBM/sarama) consumer group member for test_groups.py, the same contract as
// ../groups: consumes COUNT records of TOPIC from the beginning as member of GROUP, marks and
// commits them, leaves the group, and prints one value per line. Exit status 1 on any error or
// timeout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

type handler struct {
	mu     sync.Mutex
	values []string
	want   int
	done   chan struct{}
	once   sync.Once
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		h.values = append(h.values, string(m.Value))
		n := len(h.values)
		h.mu.Unlock()
		s.MarkMessage(m, "")
		if n >= h.want {
			s.Commit()
			h.once.Do(func() { close(h.done) })
		}
	}
	return nil
}

func main() {
	brokers := flag.String("brokers", "", "bootstrap servers")
	topic := flag.String("topic", "", "topic")
	group := flag.String("group", "", "group id")
	count := flag.Int("count", 0, "records to consume")
	flag.Parse()

	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	cg, err := sarama.NewConsumerGroup(strings.Split(*brokers, ","), *group, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "new consumer group:", err)
		os.Exit(1)
	}
	h := &handler{want: *count, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{*topic}, h); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	select {
	case <-h.done:
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "consume:", err)
		os.Exit(1)
	case <-ctx.Done():
		fmt.Fprintln(os.Stderr, "timed out after", len(h.values), "records")
		os.Exit(1)
	}
	cancel()
	if err := cg.Close(); err != nil { // leaves the group
		fmt.Fprintln(os.Stderr, "close:", err)
		os.Exit(1)
	}
	for _, v := range h.values {
		fmt.Println(v)
	}
}
