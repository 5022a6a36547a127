package dev.salient.server.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.explanation.ExplainEvent;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

/** The response stream's sink: at once while there is room, on demand when full. */
class QueueEventSinkTest {
  static final ActorTestKit kit = ActorTestKit.create();

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  /** A client that takes events only when told to. */
  static final class Client implements Subscriber<ExplainEvent> {
    final List<Integer> steps = new CopyOnWriteArrayList<>();
    final CompletableFuture<Subscription> subscription = new CompletableFuture<>();
    final CompletableFuture<Throwable> end = new CompletableFuture<>();

    @Override
    public void onSubscribe(Subscription s) {
      subscription.complete(s);
    }

    @Override
    public void onNext(ExplainEvent event) {
      steps.add(((ExplainEvent.Frame) event).step());
    }

    @Override
    public void onError(Throwable t) {
      end.complete(t);
    }

    @Override
    public void onComplete() {
      end.complete(null);
    }

    void take(long n) throws Exception {
      subscription.get(5, TimeUnit.SECONDS).request(n);
    }

    void cancel() throws Exception {
      subscription.get(5, TimeUnit.SECONDS).cancel();
    }
  }

  static ExplainEvent frame(int step) {
    return new ExplainEvent.Frame(step, "", 0f, List.of(), Map.of(), null, null, step);
  }

  /** Runs a stream of {@code buffer} events into {@code client}; returns its sink. */
  static EventSink open(int buffer, Client client) throws Exception {
    CompletableFuture<EventSink> sink = new CompletableFuture<>();
    QueueEventSink.source(buffer, sink::complete)
        .runWith(Sink.fromSubscriber(client), kit.system());
    client.subscription.get(5, TimeUnit.SECONDS);
    return sink.get(5, TimeUnit.SECONDS);
  }

  static boolean accepted(CompletionStage<Boolean> offer) throws Exception {
    return offer.toCompletableFuture().get(5, TimeUnit.SECONDS);
  }

  @Test
  void acceptsEventsAtOnceWhileTheBufferHasRoom() throws Exception {
    Client client = new Client();
    EventSink sink = open(3, client);
    for (int i = 0; i < 3; i++) {
      CompletableFuture<Boolean> offer = sink.offer(frame(i)).toCompletableFuture();
      assertTrue(offer.isDone(), "offer " + i + " waited although the buffer had room");
      assertTrue(offer.join());
    }
    client.take(3);
    awaitSteps(client, List.of(0, 1, 2));
  }

  @Test
  void aFullBufferTakesTheNextEventOnceTheClientMakesRoom() throws Exception {
    Client client = new Client();
    EventSink sink = open(2, client);
    assertTrue(accepted(sink.offer(frame(0))));
    assertTrue(accepted(sink.offer(frame(1))));
    CompletableFuture<Boolean> third = sink.offer(frame(2)).toCompletableFuture();
    TimeUnit.MILLISECONDS.sleep(100);
    assertFalse(third.isDone(), "a full buffer accepted another event");

    client.take(1);
    assertTrue(third.get(5, TimeUnit.SECONDS));
    client.take(2);
    awaitSteps(client, List.of(0, 1, 2));
  }

  @Test
  void completeSendsTheBufferedEventsFirst() throws Exception {
    Client client = new Client();
    EventSink sink = open(4, client);
    assertTrue(accepted(sink.offer(frame(0))));
    assertTrue(accepted(sink.offer(frame(1))));
    sink.complete();
    client.take(10);
    assertEquals(null, client.end.get(5, TimeUnit.SECONDS));
    assertEquals(List.of(0, 1), client.steps);
    sink.whenClosed().toCompletableFuture().get(5, TimeUnit.SECONDS);
  }

  @Test
  void aClientCancelRefusesTheWaitingEventAndClosesTheSink() throws Exception {
    Client client = new Client();
    EventSink sink = open(1, client);
    assertTrue(accepted(sink.offer(frame(0))));
    CompletableFuture<Boolean> waiting = sink.offer(frame(1)).toCompletableFuture();

    client.cancel();
    assertFalse(waiting.get(5, TimeUnit.SECONDS));
    sink.whenClosed().toCompletableFuture().get(5, TimeUnit.SECONDS);
    assertFalse(accepted(sink.offer(frame(2))));
    sink.complete();
    sink.fail(new IllegalStateException("ignored after a cancel"));
  }

  @Test
  void anOfferRightAfterTheStreamEndedIsRefusedAtOnce() throws Exception {
    // The stream reports its end before its queue learns of the cancel; an offer in between
    // sees a full buffer and must not wait for room that will never come. Repeated to hit it.
    for (int round = 0; round < 200; round++) {
      Client client = new Client();
      EventSink sink = open(1, client);
      assertTrue(accepted(sink.offer(frame(0))));
      client.cancel();
      sink.whenClosed().toCompletableFuture().get(5, TimeUnit.SECONDS);
      assertFalse(accepted(sink.offer(frame(1))), "round " + round);
    }
  }

  @Test
  void failEndsTheStreamWithTheError() throws Exception {
    Client client = new Client();
    EventSink sink = open(2, client);
    IllegalStateException error = new IllegalStateException("engine down");
    sink.fail(error);
    client.take(1);
    assertEquals(error, client.end.get(5, TimeUnit.SECONDS));
  }

  private static void awaitSteps(Client client, List<Integer> expected) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (!client.steps.equals(expected) && System.nanoTime() < deadline) {
      TimeUnit.MILLISECONDS.sleep(5);
    }
    assertEquals(expected, client.steps);
  }
}
