#include "config.h"

#include <stdint.h>
#include <string.h>

#include "quantity.h"

/* Exact decimal arithmetic in 128 bits: "1.5Gi" must give exactly 1610612736
 * bytes, which a double would not guarantee for every input. */
typedef unsigned __int128 u128;

#define MAX_INT_DIGITS 19
#define MAX_FRAC_DIGITS 18

const char cass_quantity_memory_forms[] =
    "a number of bytes (1073741824) or a number with a suffix: k, M, G, T, P, E (powers of 1000) "
    "or Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), e.g. 512Mi, 2Gi, 1.5G";
const char cass_quantity_cpus_forms[] =
    "a number of CPUs with at most 3 decimals (1.5, 2, 0.25) or millicpus (500m)";
const char cass_quantity_duration_forms[] =
    "a number of seconds (90) or a sequence of whole numbers with units d, h, m, s, ms in that "
    "order, e.g. 90s, 1h30m, 2h, 500ms, 1d";

struct decimal {
    u128 whole;
    u128 frac;  /* the digits after the point as an integer */
    int n_frac; /* how many of them */
    int has_point;
};

static u128 pow10_u128(int n)
{
    u128 r = 1;
    while (n-- > 0)
        r *= 10;
    return r;
}

/* Parses [0-9]+(\.[0-9]+)? at *p; advances *p. No sign, no exponent. */
static int parse_decimal(const char **p, struct decimal *d, int allow_point)
{
    const char *s = *p;
    int n = 0;
    memset(d, 0, sizeof(*d));
    while (*s >= '0' && *s <= '9') {
        if (++n > MAX_INT_DIGITS)
            return -1;
        d->whole = d->whole * 10 + (u128)(*s - '0');
        s++;
    }
    if (n == 0)
        return -1;
    if (*s == '.' && allow_point) {
        s++;
        d->has_point = 1;
        while (*s >= '0' && *s <= '9') {
            if (d->n_frac == MAX_FRAC_DIGITS)
                return -1;
            d->frac = d->frac * 10 + (u128)(*s - '0');
            d->n_frac++;
            s++;
        }
        if (d->n_frac == 0)
            return -1;
    }
    *p = s;
    return 0;
}

/* d * mult, rounded up; -1 when beyond INT64_MAX. */
static int scale_ceil(const struct decimal *d, u128 mult, u128 *ret)
{
    u128 den = pow10_u128(d->n_frac);
    u128 v = d->whole * mult;
    u128 f = d->frac * mult;
    v += f / den + (f % den ? 1 : 0);
    if (v > (u128)INT64_MAX)
        return -1;
    *ret = v;
    return 0;
}

int cass_quantity_memory(const char *s, int64_t *ret_bytes)
{
    static const struct {
        const char *suffix;
        u128 mult;
    } suffixes[] = {
        {"", 1},
        {"k", 1000ULL},
        {"K", 1000ULL},
        {"M", 1000ULL * 1000},
        {"G", 1000ULL * 1000 * 1000},
        {"T", 1000ULL * 1000 * 1000 * 1000},
        {"P", 1000ULL * 1000 * 1000 * 1000 * 1000},
        {"E", 1000ULL * 1000 * 1000 * 1000 * 1000 * 1000},
        {"Ki", 1ULL << 10},
        {"Mi", 1ULL << 20},
        {"Gi", 1ULL << 30},
        {"Ti", 1ULL << 40},
        {"Pi", 1ULL << 50},
        {"Ei", 1ULL << 60},
    };
    struct decimal d;
    u128 v;

    if (!s || parse_decimal(&s, &d, 1) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if (strcmp(s, suffixes[i].suffix) != 0)
            continue;
        if (scale_ceil(&d, suffixes[i].mult, &v) < 0)
            return -1;
        *ret_bytes = (int64_t)v;
        return 0;
    }
    return -1;
}

int cass_quantity_cpus(const char *s, int64_t *ret_millicpus)
{
    struct decimal d;
    u128 v;

    if (!s || parse_decimal(&s, &d, 1) < 0)
        return -1;
    if (strcmp(s, "m") == 0) {
        if (d.has_point)
            return -1; /* finer than a millicpu */
        if (d.whole > (u128)INT64_MAX)
            return -1;
        *ret_millicpus = (int64_t)d.whole;
        return 0;
    }
    if (*s)
        return -1;
    /* more precision than 1m: any non-zero digit after the third decimal */
    if (d.n_frac > 3 && d.frac % pow10_u128(d.n_frac - 3) != 0)
        return -1;
    if (scale_ceil(&d, 1000, &v) < 0)
        return -1;
    *ret_millicpus = (int64_t)v;
    return 0;
}

int cass_quantity_duration(const char *s, int64_t *ret_seconds)
{
    /* Units in descending order; each may appear once. */
    static const struct {
        const char *unit;
        u128 ms;
    } units[] = {
        {"d", 86400000ULL}, {"h", 3600000ULL}, {"ms", 1ULL}, {"m", 60000ULL}, {"s", 1000ULL},
    };
    static const int rank[] = {0, 1, 4, 2, 3}; /* order of d, h, ms, m, s in a duration */
    u128 total_ms = 0;
    int last_rank = -1;
    struct decimal d;

    if (!s || !*s)
        return -1;
    if (parse_decimal(&s, &d, 0) < 0)
        return -1;
    if (*s == '\0') {
        if (d.whole > (u128)INT64_MAX)
            return -1;
        *ret_seconds = (int64_t)d.whole;
        return 0;
    }
    for (;;) {
        size_t i;
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t n = strlen(units[i].unit);
            if (strncmp(s, units[i].unit, n) == 0) {
                s += n;
                break;
            }
        }
        if (i == sizeof(units) / sizeof(units[0]) || rank[i] <= last_rank)
            return -1;
        last_rank = rank[i];
        total_ms += d.whole * units[i].ms; /* < 1e19 * 8.64e7: no 128-bit overflow */
        if (total_ms / 1000 > (u128)INT64_MAX)
            return -1;
        if (*s == '\0')
            break;
        if (parse_decimal(&s, &d, 0) < 0)
            return -1;
    }
    u128 secs = total_ms / 1000 + (total_ms % 1000 ? 1 : 0);
    if (secs > (u128)INT64_MAX)
        return -1;
    *ret_seconds = (int64_t)secs;
    return 0;
}
