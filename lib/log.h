/* Leveled logging: text to stderr (journald adds the time under systemd)
 * or one JSON object per line. Library code does not log; callers do. */
#ifndef CASS_LOG_H
#define CASS_LOG_H

enum cass_log_level { CASS_LOG_ERROR = 0, CASS_LOG_WARN, CASS_LOG_INFO, CASS_LOG_DEBUG };
enum cass_log_format { CASS_LOG_TEXT = 0, CASS_LOG_JSON };

void cass_log_setup(enum cass_log_level level, enum cass_log_format format);
/* Changes the level alone, from any thread (config reload). */
void cass_log_set_level(enum cass_log_level level);
int cass_log_level_parse(const char *s, enum cass_log_level *ret);
int cass_log_format_parse(const char *s, enum cass_log_format *ret);
int cass_log_enabled(enum cass_log_level level);
void cass_log_write(enum cass_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) cass_log_write(CASS_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) cass_log_write(CASS_LOG_WARN, __VA_ARGS__)
#define log_info(...) cass_log_write(CASS_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (cass_log_enabled(CASS_LOG_DEBUG))                                                      \
            cass_log_write(CASS_LOG_DEBUG, __VA_ARGS__);                                           \
    } while (0)

#endif
