#ifndef STOCKWIRE_CRABBITMQ_SHIM_H
#define STOCKWIRE_CRABBITMQ_SHIM_H

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/prctl.h>

/// amqp_login_with_properties is a C variadic, which Swift cannot call: fix the PLAIN mechanism here.
static inline amqp_rpc_reply_t stockwire_amqp_login_plain(amqp_connection_state_t state, const char *vhost,
                                                          int channel_max, int frame_max, int heartbeat,
                                                          const amqp_table_t *properties, const char *user,
                                                          const char *password) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat, properties,
                                      AMQP_SASL_METHOD_PLAIN, user, password);
}

/// The decoded method payload of a frame (a union member Swift sees as an opaque field).
static inline amqp_method_t stockwire_frame_method(const amqp_frame_t *frame) { return frame->payload.method; }

/// The body size announced by a content header frame.
static inline uint64_t stockwire_frame_body_size(const amqp_frame_t *frame) {
    return frame->payload.properties.body_size;
}

/// The decoded basic properties of a content header frame.
static inline const amqp_basic_properties_t *stockwire_frame_properties(const amqp_frame_t *frame) {
    return (const amqp_basic_properties_t *)frame->payload.properties.decoded;
}

/// The bytes of a body frame.
static inline amqp_bytes_t stockwire_frame_body(const amqp_frame_t *frame) { return frame->payload.body_fragment; }

/// A non-blocking, close-on-exec pipe the I/O thread polls beside the broker socket to be woken for new commands.
static inline int stockwire_wake_pipe(int fds[2]) {
    if (pipe(fds) != 0) return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
}

/// Names the calling thread (Linux keeps 15 bytes), so `top -H` and perf show which connection it serves.
static inline void stockwire_set_thread_name(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

#endif
