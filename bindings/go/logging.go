package persistency

// This file holds the library's logger: the log levels and SetLogger. The
// messages arrive in persistencyGoLog (callbacks.go).

/*
#include "persistency.h"

// Exported from callbacks.go.
extern void persistencyGoLog(int32_t level, char *msg);

static void pgo_log(int32_t level, const char *msg, void *user_data) {
	(void)user_data;
	persistencyGoLog(level, (char *)msg);
}

static void pgo_set_logger(int on, int32_t max_level) {
	persistency_set_logger(on ? pgo_log : NULL, NULL, max_level);
}
*/
import "C"

// The log levels; a logger set with max level L receives the messages of
// level L and below.
const (
	LogError = C.PERSISTENCY_LOG_ERROR
	LogWarn  = C.PERSISTENCY_LOG_WARN
	LogInfo  = C.PERSISTENCY_LOG_INFO
	LogDebug = C.PERSISTENCY_LOG_DEBUG
)

// SetLogger installs fn as the library's logger for messages of level at
// most maxLevel; nil removes it. fn may be called from any library thread,
// concurrently, and must be quick; a panic in it is recovered and ignored.
func SetLogger(fn func(level int, msg string), maxLevel int) {
	if fn == nil {
		C.pgo_set_logger(0, 0)
		logFunc.Store(nil)
		return
	}
	logFunc.Store(&fn)
	C.pgo_set_logger(1, C.int32_t(maxLevel))
}
