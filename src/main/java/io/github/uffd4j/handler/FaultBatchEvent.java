package io.github.uffd4j.handler;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** JFR: one batch of userfaultfd messages read and handled by a handler thread. */
@Name("io.github.uffd4j.FaultBatch")
@Label("Userfaultfd Fault Batch")
@Category({"uffd4j", "Faults"})
@Description("Messages read from a userfaultfd in one read(2) and the pages served for them")
@StackTrace(false)
final class FaultBatchEvent extends jdk.jfr.Event {
    @Label("Messages")
    int messages;
    @Label("Faults")
    int faults;
    @Label("Pages Loaded")
    long pages;
    @Label("Bytes Loaded")
    @DataAmount
    long bytes;
    @Label("Service Time")
    @jdk.jfr.Timespan
    long serviceNanos;
}
