#include "config.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hub.h"
#include "problem.h"
#include "protocol.h"

/* The hub sleeps at most this long: request deadlines need no wake of
 * their own, they are looked at every pass. */
#define HUB_TICK_MS 250

struct cass_hub {
    struct cass_daemon *d;
    int ep;        /* epoll: wake, events, and the parked descriptors */
    int wake;      /* eventfd: a park arrived, or stop */
    int events_fd; /* eventfd: the daemon recorded something */
    struct cass_hub_tag tag_wake, tag_events;
    pthread_t thread, bridge;
    bool bridge_started, thread_started;
    bool bridge_stop; /* under d->events_lock */

    pthread_mutex_t lock; /* incoming, conns, closing */
    struct cass_hub_park *incoming;
    struct cass_hub_conn *conns;
    bool closing;

    struct cass_hub_park *parked; /* the hub's thread only */
};

static void poke(int fd)
{
    uint64_t one = 1;
    if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        return;
}

static void drain(int fd)
{
    uint64_t n;
    while (read(fd, &n, sizeof(n)) > 0)
        ;
}

/* The daemon signals new events with a condition variable; the hub waits in
 * epoll. This thread turns one into the other. */
static void *bridge_main(void *arg)
{
    struct cass_hub *h = arg;
    struct cass_daemon *d = h->d;
    pthread_mutex_lock(&d->events_lock);
    unsigned long seen = d->events_seq;
    while (!h->bridge_stop) {
        if (d->events_seq != seen) {
            seen = d->events_seq;
            poke(h->events_fd);
            continue;
        }
        pthread_cond_wait(&d->events_cond, &d->events_lock);
    }
    pthread_mutex_unlock(&d->events_lock);
    return NULL;
}

static void watch(struct cass_hub *h, int fd, uint32_t events, struct cass_hub_tag *tag)
{
    struct epoll_event ev = {.events = events, .data.ptr = tag};
    if (fd >= 0 && epoll_ctl(h->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        tag->p = NULL; /* not watched: never looked up */
}

static void unwatch(struct cass_hub *h, int fd, struct cass_hub_tag *tag)
{
    if (fd >= 0 && tag->p)
        epoll_ctl(h->ep, EPOLL_CTL_DEL, fd, NULL);
}

/* Parks p, or reports that it should be resumed at once. */
static bool settle(struct cass_hub *h, struct cass_hub_park *p)
{
    if (p->wait.events && p->refill && p->refill(p->ctx))
        return false;
    p->tag_sock.p = p;
    p->tag_fd.p = p;
    watch(h, p->sock, EPOLLRDHUP, &p->tag_sock);
    watch(h, p->wait.fd, EPOLLIN, &p->tag_fd);
    p->next = h->parked;
    h->parked = p;
    return true;
}

/* Takes p off the parked list (pp points at it) and lets MHD go on. */
static void release(struct cass_hub *h, struct cass_hub_park **pp)
{
    struct cass_hub_park *p = *pp;
    *pp = p->next;
    unwatch(h, p->sock, &p->tag_sock);
    unwatch(h, p->wait.fd, &p->tag_fd);
    MHD_resume_connection(p->conn);
}

static void send_408(int fd, bool tls)
{
    /* Inside TLS a plain answer is noise to the client: only the shutdown. */
    if (tls) {
        shutdown(fd, SHUT_RDWR);
        return;
    }
    static const char body[] = "{\"detail\":\"the request did not arrive in full in time "
                               "(limits.requestTimeoutSeconds)\",\"status\":408,"
                               "\"title\":\"Request Timeout\"}\n";
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 408 Request Timeout\r\nContent-Type: %s\r\n"
                     "Connection: close\r\nContent-Length: %zu\r\n\r\n",
                     CASS_MEDIA_PROBLEM, sizeof(body) - 1);
    /* MHD is still reading this request, so it writes nothing meanwhile. */
    if (n > 0 && send(fd, head, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n)
        (void)!send(fd, body, sizeof(body) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    shutdown(fd, SHUT_RDWR);
}

/* Answers the connections whose request is late; returns the time until the
 * next deadline (capped). Under h->lock. */
static int64_t expire_conns(struct cass_hub *h, int64_t now)
{
    int64_t next = HUB_TICK_MS;
    for (struct cass_hub_conn *c = h->conns; c; c = c->next) {
        if (!c->deadline_ms || c->killed)
            continue;
        if (c->deadline_ms <= now) {
            c->killed = true;
            c->deadline_ms = 0;
            send_408(c->fd, c->tls);
        } else if (c->deadline_ms - now < next) {
            next = c->deadline_ms - now;
        }
    }
    return next;
}

static void *hub_main(void *arg)
{
    struct cass_hub *h = arg;
    int timeout = 0;
    for (;;) {
        struct epoll_event evs[64];
        int n = epoll_wait(h->ep, evs, 64, timeout);
        bool events = false;
        for (int i = 0; i < n; i++) {
            struct cass_hub_tag *tag = evs[i].data.ptr;
            if (tag == &h->tag_wake) {
                drain(h->wake);
            } else if (tag == &h->tag_events) {
                drain(h->events_fd);
                events = true;
            } else if (tag->p) {
                /* Marked here, released below (one release per park). */
                tag->p->wait.until_ms = 1;
                if (tag == &tag->p->tag_sock)
                    tag->p->hung_up = true;
            }
        }
        pthread_mutex_lock(&h->lock);
        struct cass_hub_park *in = h->incoming;
        h->incoming = NULL;
        bool closing = h->closing;
        pthread_mutex_unlock(&h->lock);

        while (in) {
            struct cass_hub_park *p = in;
            in = in->next;
            if (closing || !settle(h, p))
                MHD_resume_connection(p->conn);
        }
        int64_t now = cass_stream_now_ms(), next = HUB_TICK_MS;
        for (struct cass_hub_park **pp = &h->parked; *pp;) {
            struct cass_hub_park *p = *pp;
            bool go = closing || (p->wait.until_ms && p->wait.until_ms <= now) ||
                      (events && p->wait.events && (!p->refill || p->refill(p->ctx)));
            if (go) {
                release(h, pp);
                continue;
            }
            if (p->wait.until_ms && p->wait.until_ms - now < next)
                next = p->wait.until_ms - now;
            pp = &p->next;
        }
        if (closing)
            break;
        pthread_mutex_lock(&h->lock);
        int64_t c = expire_conns(h, cass_stream_now_ms());
        pthread_mutex_unlock(&h->lock);
        timeout = (int)(c < next ? c : next);
        if (timeout < 0)
            timeout = 0;
    }
    return NULL;
}

int cass_hub_park(struct cass_hub *h, struct cass_hub_park *p)
{
    p->hung_up = false;
    pthread_mutex_lock(&h->lock);
    if (h->closing) {
        pthread_mutex_unlock(&h->lock);
        return -1;
    }
    /* Suspended before the hub can see it, so that it never resumes a
     * connection that is not suspended. */
    MHD_suspend_connection(p->conn);
    p->next = h->incoming;
    h->incoming = p;
    pthread_mutex_unlock(&h->lock);
    poke(h->wake);
    return 0;
}

void cass_hub_conn_add(struct cass_hub *h, struct cass_hub_conn *c, int64_t deadline_ms)
{
    pthread_mutex_lock(&h->lock);
    c->deadline_ms = deadline_ms;
    c->prev = NULL;
    c->next = h->conns;
    if (h->conns)
        h->conns->prev = c;
    h->conns = c;
    pthread_mutex_unlock(&h->lock);
}

void cass_hub_conn_arm(struct cass_hub *h, struct cass_hub_conn *c, int64_t deadline_ms)
{
    pthread_mutex_lock(&h->lock);
    if (!c->killed)
        c->deadline_ms = deadline_ms;
    pthread_mutex_unlock(&h->lock);
}

void cass_hub_conn_remove(struct cass_hub *h, struct cass_hub_conn *c)
{
    pthread_mutex_lock(&h->lock);
    if (c->prev)
        c->prev->next = c->next;
    else if (h->conns == c)
        h->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    pthread_mutex_unlock(&h->lock);
}

static void hub_free(struct cass_hub *h)
{
    if (h->ep >= 0)
        close(h->ep);
    if (h->wake >= 0)
        close(h->wake);
    if (h->events_fd >= 0)
        close(h->events_fd);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void cass_hub_stop(struct cass_hub *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->closing = true;
    pthread_mutex_unlock(&h->lock);
    poke(h->wake);
    if (h->thread_started)
        pthread_join(h->thread, NULL);
    if (h->bridge_started) {
        pthread_mutex_lock(&h->d->events_lock);
        h->bridge_stop = true;
        pthread_cond_broadcast(&h->d->events_cond);
        pthread_mutex_unlock(&h->d->events_lock);
        pthread_join(h->bridge, NULL);
        h->bridge_started = false;
    }
    h->thread_started = false;
}

void cass_hub_free(struct cass_hub *h)
{
    if (!h)
        return;
    cass_hub_stop(h);
    hub_free(h);
}

struct cass_hub *cass_hub_start(struct cass_daemon *d, struct cass_error **err)
{
    struct cass_hub *h = calloc(1, sizeof(*h));
    if (!h) {
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    h->d = d;
    pthread_mutex_init(&h->lock, NULL);
    h->ep = epoll_create1(EPOLL_CLOEXEC);
    h->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    h->events_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (h->ep < 0 || h->wake < 0 || h->events_fd < 0) {
        cass_error_errno(err, errno, "the API's stream hub");
        hub_free(h);
        return NULL;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &h->tag_wake};
    epoll_ctl(h->ep, EPOLL_CTL_ADD, h->wake, &ev);
    ev.data.ptr = &h->tag_events;
    epoll_ctl(h->ep, EPOLL_CTL_ADD, h->events_fd, &ev);
    if (pthread_create(&h->bridge, NULL, bridge_main, h) == 0)
        h->bridge_started = true;
    if (h->bridge_started && pthread_create(&h->thread, NULL, hub_main, h) == 0)
        h->thread_started = true;
    if (!h->thread_started) {
        cass_error_set(err, CASS_ERR_INTERNAL, "cannot start the API's stream hub");
        cass_hub_stop(h);
        return NULL;
    }
    return h;
}
