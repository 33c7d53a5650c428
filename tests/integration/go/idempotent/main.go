// An idempotent franz-go producer for test_idempotence.py (idempotence is kgo's default): sends
// -count records, record i with value "<prefix>-<i>" to partition i % -partitions (manual
// partitioner), asynchronously with kgo's ordering guarantees, then flushes. Prints one JSON
// object: how many were delivered and the errors.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "seed brokers")
	topic := flag.String("topic", "", "topic")
	partitions := flag.Int("partitions", 4, "partitions")
	count := flag.Int("count", 1000, "records")
	prefix := flag.String("prefix", "go", "value prefix")
	timeout := flag.Duration("timeout", 150*time.Second, "overall deadline")
	flag.Parse()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.DefaultProduceTopic(*topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RequestTimeoutOverhead(5*time.Second),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.ProducerLinger(5*time.Millisecond), kgo.RecordDeliveryTimeout(*timeout),
		kgo.ProducerBatchMaxBytes(512),                    // many small Produce requests to break
		kgo.ProducerBatchCompression(kgo.NoCompression())) // the test reads batches itself
	if err != nil {
		fmt.Println(`{"fatal": "client"}`)
		os.Exit(1)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var mu sync.Mutex
	errs := []string{}
	delivered := 0
	var wg sync.WaitGroup
	for i := 0; i < *count; i++ {
		wg.Add(1)
		r := &kgo.Record{Value: []byte(fmt.Sprintf("%s-%d", *prefix, i)), Partition: int32(i % *partitions)}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			mu.Lock()
			if err != nil {
				errs = append(errs, err.Error())
			} else {
				delivered++
			}
			mu.Unlock()
			wg.Done()
		})
	}
	wg.Wait()
	if len(errs) > 5 {
		errs = errs[:5]
	}
	out, _ := json.Marshal(map[string]any{"client": "franz-go", "delivered": delivered,
		"errors": errs, "unflushed": 0, "idempotent": true})
	fmt.Println(string(out))
}
