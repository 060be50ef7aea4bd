package dev.tributary.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;

/**
 * Contender (c) of the Tributary benchmark: the workload of bench/workload/definition.ts as a Kafka Streams
 * application. Each record is parsed (Jackson), validated with the same rules as the zod schema WorkloadEvent, given
 * {@code amountCents}, and published keyed by {@code userId}; an invalid one goes to the dead-letter topic with its
 * original key and value and a {@code dlq-reason} header. At-least-once, N stream threads.
 *
 * <p>Usage: {@code java -cp ... dev.tributary.bench.WorkloadStreams <bootstrap> <input> <output> <dlq> <applicationId>
 * <threads> <commitIntervalMs>}. Prints {@code BENCH_READY} on stdout once RUNNING; closes when stdin ends.
 */
public final class WorkloadStreams {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> TYPES = Set.of("view", "click", "cart", "purchase");
  private static final Set<String> DEVICES = Set.of("mobile", "desktop", "tablet");

  /** The result of processing one record: either the output key and value, or why it is invalid. */
  record Outcome(String key, byte[] value, String reason) {
    boolean ok() {
      return reason == null;
    }
  }

  /** parse → validate → add amountCents, as WorkloadEvent and enrich() in definition.ts. */
  static Outcome process(byte[] raw) {
    if (raw == null) return new Outcome(null, null, "tombstone");
    JsonNode node;
    try {
      node = JSON.readTree(raw);
    } catch (Exception e) {
      return new Outcome(null, null, "malformed JSON: " + e.getMessage());
    }
    if (!(node instanceof ObjectNode event)) return new Outcome(null, null, "not an object");
    String reason = invalidReason(event);
    if (reason != null) return new Outcome(null, null, reason);
    event.put("amountCents", Math.round(event.get("amount").doubleValue() * 100));
    try {
      return new Outcome(event.get("userId").textValue(), JSON.writeValueAsBytes(event), null);
    } catch (Exception e) {
      return new Outcome(null, null, "serialize: " + e.getMessage());
    }
  }

  private static String invalidReason(ObjectNode e) {
    JsonNode id = e.get("id");
    if (id == null || !id.isIntegralNumber() || id.longValue() < 0) return "id: expected a non-negative integer";
    JsonNode ts = e.get("ts");
    if (ts == null || !ts.isIntegralNumber() || ts.longValue() <= 0) return "ts: expected a positive integer";
    JsonNode userId = e.get("userId");
    if (userId == null || !userId.isTextual() || userId.textValue().isEmpty()) return "userId: expected a string";
    JsonNode type = e.get("type");
    if (type == null || !type.isTextual() || !TYPES.contains(type.textValue())) return "type: invalid option";
    JsonNode amount = e.get("amount");
    if (amount == null || !amount.isNumber() || amount.doubleValue() < 0) return "amount: expected a number >= 0";
    JsonNode currency = e.get("currency");
    if (currency == null || !currency.isTextual() || currency.textValue().length() != 3) {
      return "currency: expected 3 characters";
    }
    JsonNode sessionId = e.get("sessionId");
    if (sessionId == null || !sessionId.isTextual() || sessionId.textValue().isEmpty()) {
      return "sessionId: expected a string";
    }
    JsonNode page = e.get("page");
    if (page == null || !page.isTextual() || !page.textValue().startsWith("/")) return "page: expected a path";
    JsonNode device = e.get("device");
    if (device == null || !device.isTextual() || !DEVICES.contains(device.textValue())) {
      return "device: invalid option";
    }
    return null;
  }

  /** The dead-letter record: the original value, with the reason as a header. */
  static final class DeadLetter implements FixedKeyProcessor<byte[], Outcome, byte[]> {
    private FixedKeyProcessorContext<byte[], byte[]> context;

    @Override
    public void init(FixedKeyProcessorContext<byte[], byte[]> context) {
      this.context = context;
    }

    @Override
    public void process(FixedKeyRecord<byte[], Outcome> record) {
      record.headers().add("dlq-reason", record.value().reason().getBytes(StandardCharsets.UTF_8));
      context.forward(record.withValue(record.value().value()));
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 7) {
      System.err.println("usage: WorkloadStreams <bootstrap> <input> <output> <dlq> <applicationId> <threads> <commitIntervalMs>");
      System.exit(2);
    }
    String bootstrap = args[0];
    String input = args[1];
    String output = args[2];
    String dlq = args[3];
    String applicationId = args[4];
    int threads = Integer.parseInt(args[5]);
    Path stateDir = Files.createTempDirectory("tributary-bench-streams-");

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Integer.parseInt(args[6]));
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

    StreamsBuilder builder = new StreamsBuilder();
    KStream<byte[], byte[]> records =
        builder.stream(input, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()));
    // the raw value travels along so that an invalid record is dead-lettered as it came
    KStream<byte[], Outcome> outcomes =
        records.mapValues(raw -> withOriginal(process(raw), raw), Named.as("workload"));
    Map<String, KStream<byte[], Outcome>> branches =
        outcomes
            .split(Named.as("outcome-"))
            .branch((key, outcome) -> outcome.ok(), Branched.as("valid"))
            .defaultBranch(Branched.as("invalid"));
    branches
        .get("outcome-valid")
        .map((key, outcome) -> KeyValue.pair(outcome.key(), outcome.value()), Named.as("rekey"))
        .to(output, Produced.with(Serdes.String(), Serdes.ByteArray()));
    branches
        .get("outcome-invalid")
        .processValues(DeadLetter::new, Named.as("dead-letter"))
        .to(dlq, Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));

    KafkaStreams streams = new KafkaStreams(builder.build(), props);
    AtomicBoolean announced = new AtomicBoolean(false);
    streams.setStateListener(
        (now, before) -> {
          if (now == KafkaStreams.State.RUNNING && announced.compareAndSet(false, true)) {
            System.out.println("BENCH_READY");
            System.out.flush();
          }
          if (now == KafkaStreams.State.ERROR) {
            System.err.println("[streams] entered ERROR state");
            System.exit(1);
          }
        });
    streams.start();

    // run until the bench closes stdin (or kills us)
    try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      while (in.readLine() != null) {
        // nothing to read: stdin only signals the end
      }
    }
    streams.close(Duration.ofSeconds(30));
    streams.cleanUp();
    System.out.println("BENCH_STOPPED");
    System.out.flush();
  }

  /** An invalid outcome keeps the original bytes in `value` (the dead-letter record's value). */
  private static Outcome withOriginal(Outcome outcome, byte[] raw) {
    return outcome.ok() ? outcome : new Outcome(null, raw, outcome.reason());
  }
}
