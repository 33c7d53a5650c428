// RaftWireProbe: the Kafka half of test_raft_wire_kafka.py. Apache Kafka 4.0's own message
// classes (kafka-clients) against Sluice's Raft wire mapping (src/replication/raft_wire.c):
//   read DIR   parses every <message>_v<version>.bin Sluice wrote with Kafka's generated class
//              for that message and version, checks every record batch (CRC, then each record),
//              and prints one JSON object per file: {"file": ..., "message": <Kafka's JSON>,
//              "batches": [...]} (batches only for Fetch responses);
//   write DIR  writes the messages as Kafka 4.0's KafkaRaftClient builds them (RaftUtil's
//              singleton requests and responses, records from MemoryRecords) for
//              raft_wire_exchange to check. Values must agree with raft_wire_exchange.c.
// Compiled at test time with javac against build/kafka-libs.

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.message.BeginQuorumEpochRequestData;
import org.apache.kafka.common.message.BeginQuorumEpochResponseData;
import org.apache.kafka.common.message.BeginQuorumEpochResponseDataJsonConverter;
import org.apache.kafka.common.message.BeginQuorumEpochRequestDataJsonConverter;
import org.apache.kafka.common.message.DescribeQuorumRequestData;
import org.apache.kafka.common.message.DescribeQuorumResponseData;
import org.apache.kafka.common.message.DescribeQuorumResponseDataJsonConverter;
import org.apache.kafka.common.message.EndQuorumEpochRequestData;
import org.apache.kafka.common.message.EndQuorumEpochRequestDataJsonConverter;
import org.apache.kafka.common.message.FetchRequestData;
import org.apache.kafka.common.message.FetchRequestDataJsonConverter;
import org.apache.kafka.common.message.FetchResponseData;
import org.apache.kafka.common.message.FetchResponseDataJsonConverter;
import org.apache.kafka.common.message.LeaderChangeMessage;
import org.apache.kafka.common.message.VoteRequestData;
import org.apache.kafka.common.message.VoteRequestDataJsonConverter;
import org.apache.kafka.common.message.VoteResponseData;
import org.apache.kafka.common.message.VoteResponseDataJsonConverter;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Message;
import org.apache.kafka.common.protocol.MessageUtil;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MutableRecordBatch;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.SimpleRecord;

public final class RaftWireProbe {
    private RaftWireProbe() {}

    static final String CLUSTER = "MkU3OEVBNTcwNTJENDM2Qg";
    static final String METADATA = "__cluster_metadata";

    static ByteBufferAccessor readable(File f) throws Exception {
        return new ByteBufferAccessor(ByteBuffer.wrap(Files.readAllBytes(f.toPath())));
    }

    static String batchesJson(MemoryRecords records) {
        List<String> out = new ArrayList<>();
        for (MutableRecordBatch b : records.batches()) {
            b.ensureValid(); // CRC and sizes, as a Kafka fetcher checks them
            int count = 0;
            for (Record r : b) {
                r.ensureValid();
                count++;
            }
            out.add(String.format("{\"baseOffset\":%d,\"lastOffset\":%d,\"epoch\":%d,"
                    + "\"control\":%b,\"records\":%d}", b.baseOffset(), b.lastOffset(),
                    b.partitionLeaderEpoch(), b.isControlBatch(), count));
        }
        return "[" + String.join(",", out) + "]";
    }

    static void read(File dir) throws Exception {
        File[] files = dir.listFiles((d, name) -> name.endsWith(".bin"));
        Arrays.sort(files);
        for (File f : files) {
            String name = f.getName();
            short v = Short.parseShort(name.replaceAll(".*_v(\\d+)\\.bin$", "$1"));
            String json;
            String batches = "null";
            if (name.startsWith("vote_request")) {
                json = VoteRequestDataJsonConverter.write(new VoteRequestData(readable(f), v), v).toString();
            } else if (name.startsWith("vote_response")) {
                json = VoteResponseDataJsonConverter.write(new VoteResponseData(readable(f), v), v).toString();
            } else if (name.startsWith("begin_quorum_epoch_request")) {
                json = BeginQuorumEpochRequestDataJsonConverter.write(
                        new BeginQuorumEpochRequestData(readable(f), v), v).toString();
            } else if (name.startsWith("begin_quorum_epoch_response")) {
                json = BeginQuorumEpochResponseDataJsonConverter.write(
                        new BeginQuorumEpochResponseData(readable(f), v), v).toString();
            } else if (name.startsWith("end_quorum_epoch_request")) {
                json = EndQuorumEpochRequestDataJsonConverter.write(
                        new EndQuorumEpochRequestData(readable(f), v), v).toString();
            } else if (name.startsWith("fetch_request")) {
                json = FetchRequestDataJsonConverter.write(new FetchRequestData(readable(f), v), v).toString();
            } else if (name.startsWith("fetch_response")) {
                FetchResponseData data = new FetchResponseData(readable(f), v);
                json = FetchResponseDataJsonConverter.write(data, v, false).toString();
                batches = batchesJson((MemoryRecords) data.responses().get(0).partitions().get(0).records());
            } else if (name.startsWith("describe_quorum_response")) {
                json = DescribeQuorumResponseDataJsonConverter.write(
                        new DescribeQuorumResponseData(readable(f), v), v).toString();
            } else {
                throw new IllegalArgumentException("unknown file " + name);
            }
            System.out.println("{\"file\":\"" + name + "\",\"message\":" + json + ",\"batches\":" + batches + "}");
        }
    }

    static void write(File dir, String name, Message m, short v) throws Exception {
        ByteBuffer buf = MessageUtil.toByteBuffer(m, v);
        byte[] bytes = new byte[buf.remaining()];
        buf.get(bytes);
        Files.write(new File(dir, name + "_v" + v + ".bin").toPath(), bytes);
    }

    static void writeAll(File dir) throws Exception {
        Uuid replicaDir = Uuid.fromString("a2Z0ZW5zdGVpbmRpcmVjdA");
        // node 2 asks node 1, as KafkaRaftClient.buildVoteRequest does for a prospective (pre-vote)
        write(dir, "vote_request", new VoteRequestData().setClusterId(CLUSTER).setVoterId(1)
                .setTopics(Collections.singletonList(new VoteRequestData.TopicData().setTopicName(METADATA)
                        .setPartitions(Collections.singletonList(new VoteRequestData.PartitionData()
                                .setPartitionIndex(0).setReplicaEpoch(5).setReplicaId(2)
                                .setReplicaDirectoryId(replicaDir).setVoterDirectoryId(Uuid.ZERO_UUID)
                                .setLastOffsetEpoch(4).setLastOffset(100).setPreVote(true))))), (short) 2);
        BeginQuorumEpochRequestData.LeaderEndpointCollection endpoints =
                new BeginQuorumEpochRequestData.LeaderEndpointCollection();
        endpoints.add(new BeginQuorumEpochRequestData.LeaderEndpoint().setName("CONTROLLER")
                .setHost("127.0.0.12").setPort(9093));
        write(dir, "begin_quorum_epoch_request", new BeginQuorumEpochRequestData().setClusterId(CLUSTER)
                .setVoterId(1).setLeaderEndpoints(endpoints)
                .setTopics(Collections.singletonList(new BeginQuorumEpochRequestData.TopicData()
                        .setTopicName(METADATA).setPartitions(Collections.singletonList(
                                new BeginQuorumEpochRequestData.PartitionData().setPartitionIndex(0)
                                        .setVoterDirectoryId(replicaDir).setLeaderId(2).setLeaderEpoch(6))))),
                (short) 1);
        write(dir, "end_quorum_epoch_request", new EndQuorumEpochRequestData().setClusterId(CLUSTER)
                .setTopics(Collections.singletonList(new EndQuorumEpochRequestData.TopicData()
                        .setTopicName(METADATA).setPartitions(Collections.singletonList(
                                new EndQuorumEpochRequestData.PartitionData().setPartitionIndex(0)
                                        .setLeaderId(2).setLeaderEpoch(6).setPreferredCandidates(Arrays.asList(
                                                new EndQuorumEpochRequestData.ReplicaInfo().setCandidateId(3)
                                                        .setCandidateDirectoryId(Uuid.ZERO_UUID),
                                                new EndQuorumEpochRequestData.ReplicaInfo().setCandidateId(1)
                                                        .setCandidateDirectoryId(replicaDir))))))),
                (short) 1);
        // KafkaRaftClient.buildFetchRequest: name and METADATA_TOPIC_ID, ReplicaState, 8 MiB
        write(dir, "fetch_request", new FetchRequestData().setClusterId(CLUSTER).setMaxWaitMs(500)
                .setMaxBytes(8 * 1024 * 1024)
                .setReplicaState(new FetchRequestData.ReplicaState().setReplicaId(2))
                .setTopics(Collections.singletonList(new FetchRequestData.FetchTopic().setTopic(METADATA)
                        .setTopicId(Uuid.METADATA_TOPIC_ID).setPartitions(Collections.singletonList(
                                new FetchRequestData.FetchPartition().setPartition(0).setCurrentLeaderEpoch(5)
                                        .setLastFetchedEpoch(4).setFetchOffset(100)
                                        .setReplicaDirectoryId(replicaDir))))), (short) 17);
        write(dir, "describe_quorum_request", new DescribeQuorumRequestData().setTopics(
                Collections.singletonList(new DescribeQuorumRequestData.TopicData().setTopicName(METADATA)
                        .setPartitions(Collections.singletonList(
                                new DescribeQuorumRequestData.PartitionData().setPartitionIndex(0))))), (short) 2);

        // node 1 answers node 2
        VoteResponseData.NodeEndpointCollection nodes = new VoteResponseData.NodeEndpointCollection();
        nodes.add(new VoteResponseData.NodeEndpoint().setNodeId(1).setHost("127.0.0.11").setPort(9093));
        write(dir, "vote_response", new VoteResponseData().setNodeEndpoints(nodes)
                .setTopics(Collections.singletonList(new VoteResponseData.TopicData().setTopicName(METADATA)
                        .setPartitions(Collections.singletonList(new VoteResponseData.PartitionData()
                                .setPartitionIndex(0).setLeaderId(-1).setLeaderEpoch(5).setVoteGranted(true))))),
                (short) 2);
        write(dir, "begin_quorum_epoch_response", new BeginQuorumEpochResponseData()
                .setTopics(Collections.singletonList(new BeginQuorumEpochResponseData.TopicData()
                        .setTopicName(METADATA).setPartitions(Collections.singletonList(
                                new BeginQuorumEpochResponseData.PartitionData().setPartitionIndex(0)
                                        .setLeaderId(1).setLeaderEpoch(6))))), (short) 1);

        // records as a KRaft leader writes them: LeaderChange control batch, then data
        ByteBuffer buffer = ByteBuffer.allocate(4096);
        MemoryRecords leaderChange = MemoryRecords.withLeaderChangeMessage(10, 1700000000000L, 3, buffer,
                new LeaderChangeMessage().setLeaderId(1));
        MemoryRecords data = MemoryRecords.withRecords(11, Compression.NONE, 3,
                new SimpleRecord("a".getBytes()), new SimpleRecord("b".getBytes()), new SimpleRecord("c".getBytes()));
        ByteBuffer both = ByteBuffer.allocate(leaderChange.sizeInBytes() + data.sizeInBytes());
        both.put(leaderChange.buffer().duplicate()).put(data.buffer().duplicate()).flip();
        write(dir, "fetch_response", fetchResponse(MemoryRecords.readableRecords(both), 12, -1, -1), (short) 17);
        write(dir, "fetch_response_diverging", fetchResponse(MemoryRecords.EMPTY, 8, 2, 8), (short) 17);
    }

    // RaftUtil.singletonFetchResponse + KafkaRaftClient.buildFetchResponse, for __cluster_metadata
    static FetchResponseData fetchResponse(MemoryRecords records, long hw, int divergingEpoch, long divergingEnd) {
        FetchResponseData.PartitionData p = new FetchResponseData.PartitionData().setPartitionIndex(0)
                .setRecords(records).setErrorCode((short) 0).setLogStartOffset(0).setHighWatermark(hw);
        p.currentLeader().setLeaderId(1).setLeaderEpoch(3);
        if (divergingEpoch >= 0) {
            p.divergingEpoch().setEpoch(divergingEpoch).setEndOffset(divergingEnd);
        }
        return new FetchResponseData().setErrorCode((short) 0).setResponses(Collections.singletonList(
                new FetchResponseData.FetchableTopicResponse().setTopic(METADATA)
                        .setTopicId(Uuid.METADATA_TOPIC_ID).setPartitions(Collections.singletonList(p))));
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: RaftWireProbe read|write DIR");
            System.exit(2);
        }
        File dir = new File(args[1]);
        if (args[0].equals("read")) {
            read(dir);
        } else {
            writeAll(dir);
        }
    }
}
