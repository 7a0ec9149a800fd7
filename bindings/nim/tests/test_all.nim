## The binding's suite in one program (one compile per memory manager).
{.used.}
import ./test_persistency, ./test_chronos, ./test_maintenance, ./test_sync
