// datapath: the data path through franz-go as an application uses it, printed as one JSON object
// for test_produce_consume.py: kadm CreateTopics (twice: the second must fail with
// TOPIC_ALREADY_EXISTS), a kgo producer (not idempotent here; test_idempotence.py covers that) that
// ProduceSyncs keyed records with headers to every partition under each codec, kadm
// ListStartOffsets/ListEndOffsets, and a direct consumer (kgo.ConsumePartitions with exact offsets,
// no group: groups have their own tests) that reads the records back.
// Every step reports its own error string; the exit status is 1 when any step failed.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const partitions = 3

type produced struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Error     string `json:"error,omitempty"`
}

type consumed struct {
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Key       string            `json:"key"`
	Value     string            `json:"value"`
	Headers   map[string]string `json:"headers"`
}

type report struct {
	CreateError      string           `json:"create_error"`
	CreateAgainError string           `json:"create_again_error"`
	Produced         []produced       `json:"produced"`
	StartOffsets     map[string]int64 `json:"start_offsets"`
	EndOffsets       map[string]int64 `json:"end_offsets"`
	ListError        string           `json:"list_error,omitempty"`
	Consumed         []consumed       `json:"consumed"`
	ConsumeError     string           `json:"consume_error,omitempty"`
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

var codecs = []struct {
	name  string
	codec kgo.CompressionCodec
}{
	{"none", kgo.NoCompression()}, {"gzip", kgo.GzipCompression()},
	{"snappy", kgo.SnappyCompression()}, {"lz4", kgo.Lz4Compression()},
	{"zstd", kgo.ZstdCompression()},
}

func newClient(brokers []string, opts ...kgo.Opt) *kgo.Client {
	base := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.RetryTimeout(5 * time.Second),
		kgo.DialTimeout(5 * time.Second)}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "datapath:", err)
		os.Exit(2)
	}
	return cl
}

// produceAll writes one record per partition per codec, with one client per codec (the codec is
// a client option), each acks=all and synchronous.
func produceAll(ctx context.Context, brokers []string, topic string, r *report) {
	for _, c := range codecs {
		cl := newClient(brokers, kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.ProducerBatchCompression(c.codec), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.RecordDeliveryTimeout(15*time.Second))
		for p := int32(0); p < partitions; p++ {
			rec := &kgo.Record{Topic: topic, Partition: p,
				Key:     []byte(fmt.Sprintf("%s-%d", c.name, p)),
				Value:   []byte(strings.Repeat(c.name+":", 50)),
				Headers: []kgo.RecordHeader{{Key: "codec", Value: []byte(c.name)}}}
			res := cl.ProduceSync(ctx, rec)
			got, err := res.First()
			pr := produced{Partition: p, Offset: -1, Key: string(rec.Key), Error: errString(err)}
			if err == nil {
				pr.Offset = got.Offset
			}
			r.Produced = append(r.Produced, pr)
		}
		cl.Close()
	}
}

func listOffsets(ctx context.Context, adm *kadm.Client, topic string, r *report) {
	collect := func(l kadm.ListedOffsets, err error) map[string]int64 {
		m := map[string]int64{}
		if err != nil {
			r.ListError = errString(err)
			return m
		}
		l.Each(func(o kadm.ListedOffset) {
			if o.Err != nil {
				r.ListError = errString(o.Err)
			}
			m[fmt.Sprint(o.Partition)] = o.Offset
		})
		return m
	}
	r.StartOffsets = collect(adm.ListStartOffsets(ctx, topic))
	r.EndOffsets = collect(adm.ListEndOffsets(ctx, topic))
}

// consume reads from exact offsets: partition p from start[p], until want records arrived.
func consume(ctx context.Context, brokers []string, topic string, start map[int32]int64, want int,
	r *report) {
	offs := map[int32]kgo.Offset{}
	for p, o := range start {
		offs[p] = kgo.NewOffset().At(o)
	}
	cl := newClient(brokers, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}),
		kgo.FetchMaxWait(200*time.Millisecond))
	defer cl.Close()
	for len(r.Consumed) < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(t string, p int32, err error) {
			if ctx.Err() == nil {
				r.ConsumeError = fmt.Sprintf("%s[%d]: %v", t, p, err)
			}
		})
		fs.EachRecord(func(rec *kgo.Record) {
			h := map[string]string{}
			for _, kv := range rec.Headers {
				h[kv.Key] = string(kv.Value)
			}
			r.Consumed = append(r.Consumed, consumed{rec.Partition, rec.Offset, string(rec.Key),
				string(rec.Value), h})
		})
	}
	if len(r.Consumed) < want && r.ConsumeError == "" {
		r.ConsumeError = fmt.Sprintf("only %d of %d records before the deadline", len(r.Consumed), want)
	}
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "comma-separated bootstrap brokers")
	topic := flag.String("topic", "franz-datapath", "topic to create and use")
	timeout := flag.Duration("timeout", 30*time.Second, "overall deadline")
	flag.Parse()
	seeds := strings.Split(*brokers, ",")

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	r := report{Produced: []produced{}, Consumed: []consumed{}}
	admCl := newClient(seeds)
	adm := kadm.NewClient(admCl)
	res, err := adm.CreateTopics(ctx, partitions, 1, nil, *topic)
	if err == nil {
		err = res[*topic].Err
	}
	r.CreateError = errString(err)
	res, err = adm.CreateTopics(ctx, partitions, 1, nil, *topic)
	if err == nil {
		err = res[*topic].Err
	}
	r.CreateAgainError = errString(err)

	produceAll(ctx, seeds, *topic, &r)
	listOffsets(ctx, adm, *topic, &r)
	admCl.Close()
	total := len(codecs) * partitions
	// Partition 0 and 2 from the beginning, partition 1 from offset 2: 13 records.
	consume(ctx, seeds, *topic, map[int32]int64{0: 0, 1: 2, 2: 0}, total-2, &r)

	ok := r.CreateError == "" && r.ListError == "" && r.ConsumeError == ""
	for _, p := range r.Produced {
		ok = ok && p.Error == ""
	}
	out, _ := json.MarshalIndent(r, "", "  ")
	fmt.Println(string(out))
	if !ok {
		os.Exit(1)
	}
}
