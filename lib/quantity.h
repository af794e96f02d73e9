/* Resource quantities as people write them, to canonical numbers. */
#ifndef CASS_QUANTITY_H
#define CASS_QUANTITY_H

#include <stdint.h>

/* Memory: "1073741824", "512Mi", "2Gi", "1G", "1.5Gi", "100k"... Decimal
 * suffixes k/K, M, G, T, P, E (powers of 1000) and binary Ki, Mi, Gi, Ti, Pi,
 * Ei; an optional "B"/"b" is not accepted (ambiguity). Result in bytes,
 * rounded up to a whole byte; -1 on a bad form, a negative value or
 * overflow of int64. */
int cass_quantity_memory(const char *s, int64_t *ret_bytes);

/* CPUs: "1.5", "2", "500m" (millicpus). Result in millicpus; -1 on a bad
 * form, a negative value, more precision than 1m, or overflow. */
int cass_quantity_cpus(const char *s, int64_t *ret_millicpus);

/* Durations: "90s", "1h30m", "2h", "45m", "500ms" (rounded up to whole
 * seconds), "1d"; a bare integer is seconds. -1 on a bad form or overflow. */
int cass_quantity_duration(const char *s, int64_t *ret_seconds);

/* Text listing the accepted forms, for error messages. */
extern const char cass_quantity_memory_forms[];
extern const char cass_quantity_cpus_forms[];
extern const char cass_quantity_duration_forms[];

#endif
