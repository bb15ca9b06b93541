/* cio error codes.
 *
 * Every cio function that can fail returns a negative code directly (never
 * -1 with errno).  System errors are returned as -errno (-ECONNRESET,
 * -ETIMEDOUT, -ECANCELED, ...).  Conditions that have no errno equivalent
 * use the reserved range below; CIO_ERRNO_MAP is the single list that
 * produces the enum, cio_strerror() and cio_err_name().
 */
#ifndef CIO_ERRNO_H
#define CIO_ERRNO_H

/* X(name, value, message) */
#define CIO_ERRNO_MAP(X)                                                                           \
    X(EINCOMPLETE, -4000, "end of stream before the requested data (IncompleteReadError)")         \
    X(ELIMIT, -4001, "separator not found within the stream limit (LimitOverrunError)")            \
    X(EBUFSIZE, -4002, "caller buffer too small for the data; nothing was consumed")               \
    X(EQUEUEFULL, -4010, "queue is full (QueueFull)")                                              \
    X(EQUEUEEMPTY, -4011, "queue is empty (QueueEmpty)")                                           \
    X(EQUEUESHUTDOWN, -4012, "queue has been shut down (QueueShutDown)")                           \
    X(ESEMBOUND, -4013, "bounded semaphore released too many times")                               \
    X(ENOTLOCKED, -4014, "lock is not locked")                                                     \
    X(EAI_AGAIN, -4020, "temporary failure in name resolution")                                    \
    X(EAI_BADFLAGS, -4021, "invalid flags for name resolution")                                    \
    X(EAI_FAIL, -4022, "non-recoverable failure in name resolution")                               \
    X(EAI_FAMILY, -4023, "address family not supported")                                           \
    X(EAI_MEMORY, -4024, "out of memory in name resolution")                                       \
    X(EAI_NONAME, -4025, "name or service not known")                                              \
    X(EAI_SERVICE, -4026, "service not supported for socket type")                                 \
    X(EAI_SOCKTYPE, -4027, "socket type not supported")                                            \
    X(EAI_NODATA, -4028, "no address associated with host name")                                   \
    X(EAI_ADDRFAMILY, -4029, "no address in the requested family for host name")                   \
    X(EAI_SYSTEM, -4030, "system error in name resolution")                                        \
    X(EAI_OTHER, -4031, "unknown name resolution error")                                           \
    X(ETLS, -4040, "TLS protocol error")                                                           \
    X(ETLSCERT, -4041, "TLS certificate verification failed")                                      \
    X(ETLSHOSTNAME, -4042, "TLS certificate does not match the host name")                         \
    X(ETLSTRUNCATED, -4043, "TLS connection closed without close_notify (truncated)")              \
    X(ETLSHANDSHAKE_TIMEOUT, -4044, "TLS handshake timed out")                                     \
    X(ETLSNOTLS, -4045, "peer did not speak TLS")

enum cio_errno {
#define CIO__ERR_ENUM(name, value, msg) CIO_##name = value,
    CIO_ERRNO_MAP(CIO__ERR_ENUM)
#undef CIO__ERR_ENUM
};

#endif
