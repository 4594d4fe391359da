/* The load generators of bench/mqtt_pipeline.py: a minimal MQTT 3.1.1 publisher and subscriber
 * (CONNECT, SUBSCRIBE, QoS 1 PUBLISH/PUBACK, DISCONNECT; many packets per system call).
 *
 * They share the machine's two cores with the broker and the pipeline under test, so every
 * microsecond they spend per message is taken from what is measured: in Python they cost about
 * 17 us per message together, as much as half the pipeline; this costs a few.
 *
 *   mqtt_load pub PORT COUNT RATE        RATE in msg/s, 0 = as fast as the window allows
 *   mqtt_load sub PORT FILTER COUNT IDLE  until COUNT distinct messages or IDLE s without one
 *
 * Each prints one JSON line (the subscriber prints "ready" first, once subscribed). Payloads are
 * canonical uplinks of 100 devices with a sequence number "n" and the publish time "ts"; the
 * subscriber finds both in whatever JSON the pipeline made of them.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define WINDOW 1000     /* QoS 1 publishes in flight at most (as the broker's max_inflight_messages) */
#define DEVICES 100
#define READ_SIZE (256 * 1024)
#define PAUSE_US 500    /* the subscriber's pause after a short read (adds at most this to a latency) */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

static void die(const char *what) {
    fprintf(stderr, "mqtt_load: %s (%s)\n", what, strerror(errno));
    exit(1);
}

static size_t put_varint(unsigned char *p, size_t value) {
    size_t n = 0;
    do {
        unsigned char byte = value & 0x7F;
        value >>= 7;
        p[n++] = value ? byte | 0x80 : byte;
    } while (value);
    return n;
}

static size_t put_string(unsigned char *p, const char *text, size_t length) {
    p[0] = length >> 8;
    p[1] = length & 0xFF;
    memcpy(p + 2, text, length);
    return length + 2;
}

static void send_all(int fd, const unsigned char *data, size_t size) {
    while (size) {
        ssize_t sent = send(fd, data, size, 0);
        if (sent < 0) {
            if (errno == EINTR) continue;
            die("send failed");
        }
        data += sent;
        size -= sent;
    }
}

/* Bytes read from the broker, split into packets. */
struct reader {
    unsigned char *data;
    size_t size;
};

/* The next complete packet: its first byte in *header, its body; 0 when none is complete yet. */
static int next_packet(struct reader *r, size_t *pos, unsigned char *header, unsigned char **body, size_t *length) {
    size_t at = *pos + 1, value = 0;
    int shift = 0;
    if (r->size - *pos < 2) return 0;
    for (;;) {
        if (at >= r->size) return 0;
        unsigned char byte = r->data[at++];
        value |= (size_t)(byte & 0x7F) << shift;
        if (byte < 0x80) break;
        shift += 7;
    }
    if (at + value > r->size) return 0;
    *header = r->data[*pos];
    *body = r->data + at;
    *length = value;
    *pos = at + value;
    return 1;
}

static void keep_rest(struct reader *r, size_t pos) {
    memmove(r->data, r->data + pos, r->size - pos);
    r->size -= pos;
}

static int connect_mqtt(int port, const char *client_id) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    unsigned char packet[256], ack[4];
    size_t n = 0, got = 0;
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address)) die("cannot connect to the broker");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    size_t id_length = strlen(client_id);
    packet[n++] = 0x10;
    n += put_varint(packet + n, 10 + 2 + id_length);
    n += put_string(packet + n, "MQTT", 4);
    packet[n++] = 4;    /* MQTT 3.1.1 */
    packet[n++] = 0x02; /* clean session */
    packet[n++] = 0;    /* no keep-alive */
    packet[n++] = 0;
    n += put_string(packet + n, client_id, id_length);
    send_all(fd, packet, n);
    while (got < 4) {
        ssize_t r = recv(fd, ack + got, 4 - got, 0);
        if (r <= 0) die("no CONNACK");
        got += r;
    }
    if (ack[0] != 0x20 || ack[3] != 0) die("the broker refused the connection");
    return fd;
}

static int publisher(int port, long count, double rate) {
    char client_id[64];
    snprintf(client_id, sizeof client_id, "bench-pub-%d", getpid());
    int fd = connect_mqtt(port, client_id);
    unsigned char *out = malloc((size_t)WINDOW * 512);
    struct reader in = {malloc(READ_SIZE), 0};
    long sent = 0, inflight = 0, step = rate > 0 ? (long)(rate / 200) : WINDOW;
    double began = now();
    if (step < 1) step = 1;
    while (sent < count || inflight > 0) {
        long batch = step;
        if (batch > count - sent) batch = count - sent;
        if (batch > WINDOW - inflight) batch = WINDOW - inflight;
        if (batch > 0) {
            double stamp = now();
            size_t o = 0;
            for (long n = sent; n < sent + batch; n++) {
                char topic[64], payload[320];
                int device = n % DEVICES;
                int topic_length = snprintf(topic, sizeof topic, "bench/in/%016x/up", device);
                int payload_length = snprintf(payload, sizeof payload,
                    "{\"type\":\"uplink\",\"devEui\":\"%016x\",\"fPort\":2,\"fCnt\":%ld,\"bytes\":\"00e7641f40\","
                    "\"receivedAt\":\"2026-01-01T10:00:00+00:00\",\"n\":%ld,\"ts\":%.6f}", device, n / DEVICES, n, stamp);
                unsigned mid = n % 65535 + 1;
                out[o++] = 0x32; /* PUBLISH, QoS 1 */
                o += put_varint(out + o, 2 + topic_length + 2 + payload_length);
                o += put_string(out + o, topic, topic_length);
                out[o++] = mid >> 8;
                out[o++] = mid & 0xFF;
                memcpy(out + o, payload, payload_length);
                o += payload_length;
            }
            send_all(fd, out, o);
            sent += batch;
            inflight += batch;
        }
        int waiting = rate <= 0 || sent >= count || inflight >= WINDOW;
        if (!waiting) {
            double delay = began + sent / rate - now();
            if (delay > 0) usleep((useconds_t)(delay * 1e6));
        }
        ssize_t r = recv(fd, in.data + in.size, READ_SIZE - in.size, waiting ? 0 : MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
            die("recv failed");
        }
        if (r == 0) die("the broker closed the publisher's connection");
        in.size += r;
        size_t pos = 0, length;
        unsigned char header, *body;
        while (next_packet(&in, &pos, &header, &body, &length))
            if (header == 0x40) inflight--;
        keep_rest(&in, pos);
    }
    double ended = now();
    send_all(fd, (const unsigned char *)"\xe0\x00", 2);
    close(fd);
    printf("{\"sent\": %ld, \"seconds\": %.6f, \"cpu\": %.6f}\n", count, ended - began, cpu_seconds());
    return 0;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, long size, double p) {
    if (!size) return 0;
    long index = (long)(p * size);
    return sorted[index < size ? index : size - 1] * 1000;
}

static int subscriber(int port, const char *filter, long expect, double idle) {
    char client_id[64];
    snprintf(client_id, sizeof client_id, "bench-sub-%d", getpid());
    int fd = connect_mqtt(port, client_id);
    unsigned char packet[512], header, *body;
    size_t n = 0, filter_length = strlen(filter), pos, length;
    struct reader in = {malloc(READ_SIZE), 0};
    packet[n++] = 0x82;
    n += put_varint(packet + n, 2 + 2 + filter_length + 1);
    packet[n++] = 0;
    packet[n++] = 1;
    n += put_string(packet + n, filter, filter_length);
    packet[n++] = 1; /* QoS 1 */
    send_all(fd, packet, n);
    for (int subscribed = 0; !subscribed;) {
        ssize_t r = recv(fd, in.data + in.size, READ_SIZE - in.size, 0);
        if (r <= 0) die("no SUBACK");
        in.size += r;
        pos = 0;
        while (next_packet(&in, &pos, &header, &body, &length))
            subscribed |= header == 0x90;
        keep_rest(&in, pos);
    }
    printf("ready\n");
    fflush(stdout);
    struct timeval timeout = {(time_t)idle, (suseconds_t)((idle - (time_t)idle) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    unsigned char *seen = calloc(expect, 1), *acks = malloc(READ_SIZE);
    double *latencies = malloc(expect * sizeof(double)), first = 1e300, last = 0;
    long received = 0, duplicates = 0;
    while (received < expect) {
        ssize_t r = recv(fd, in.data + in.size, READ_SIZE - in.size, 0);
        if (r <= 0) break; /* idle for too long, or the broker closed the connection */
        double arrived = now();
        size_t acked = 0;
        in.size += r;
        pos = 0;
        while (next_packet(&in, &pos, &header, &body, &length)) {
            if ((header & 0xF0) != 0x30) continue;
            size_t at = 2 + ((size_t)body[0] << 8 | body[1]);
            if (header & 0x06) { /* QoS 1: acknowledge the packet id that follows the topic */
                acks[acked++] = 0x40;
                acks[acked++] = 2;
                acks[acked++] = body[at];
                acks[acked++] = body[at + 1];
                at += 2;
            }
            char text[1024];
            size_t size = length - at < sizeof text - 1 ? length - at : sizeof text - 1;
            memcpy(text, body + at, size);
            text[size] = 0;
            char *number = strstr(text, "\"n\":"), *stamp = strstr(text, "\"ts\":");
            if (!number || !stamp) continue;
            long sequence = strtol(number + 4, NULL, 10);
            if (sequence < 0 || sequence >= expect) continue;
            if (seen[sequence]) {
                duplicates++;
                continue;
            }
            seen[sequence] = 1;
            double published = strtod(stamp + 5, NULL);
            latencies[received++] = arrived - published;
            if (published < first) first = published;
            last = arrived;
        }
        keep_rest(&in, pos);
        if (acked) send_all(fd, acks, acked);
        /* A short read: let more arrive before the next system call, so that reading and
         * acknowledging cost the kernel (and the broker) one wake-up per batch, not per message. */
        if (r < READ_SIZE / 4) usleep(PAUSE_US);
    }
    send_all(fd, (const unsigned char *)"\xe0\x00", 2);
    close(fd);
    qsort(latencies, received, sizeof(double), compare);
    double seconds = received ? last - first : 0;
    printf("{\"received\": %ld, \"duplicates\": %ld, \"seconds\": %.6f, \"cpu\": %.6f, \"rate\": %.3f, "
           "\"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f}\n",
           received, duplicates, seconds, cpu_seconds(), received ? received / seconds : 0.0,
           percentile(latencies, received, 0.50), percentile(latencies, received, 0.99), percentile(latencies, received, 1.0));
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "pub")) return publisher(atoi(argv[2]), atol(argv[3]), atof(argv[4]));
    if (argc == 6 && !strcmp(argv[1], "sub")) return subscriber(atoi(argv[2]), argv[3], atol(argv[4]), atof(argv[5]));
    fprintf(stderr, "usage: mqtt_load pub PORT COUNT RATE | mqtt_load sub PORT FILTER COUNT IDLE\n");
    return 2;
}
