package io.github.uffd4j.snapshot;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/**
 * JFR: one snapshot, from the call that took it until its file was whole (or it failed). Its
 * duration is the whole snapshot; {@link #pauseNanos} the part the writers were held still.
 */
@Name("io.github.uffd4j.Snapshot")
@Label("Memory Snapshot")
@Category({"uffd4j", "Snapshots"})
@Description("A snapshot of off-heap memory written to a file while writers went on")
@StackTrace(false)
final class SnapshotEvent extends jdk.jfr.Event {
    @Label("File")
    String file;
    @Label("Kind")
    @Description("live (copy before write), tracked full, or tracked increment")
    String kind;
    @Label("Memory Size")
    @DataAmount
    long memorySize;
    @Label("Pages Stored")
    long pagesStored;
    @Label("Pages Saved in Background")
    long savedInBackground;
    @Label("Pages Saved Before a Write")
    long savedBeforeWrite;
    @Label("Zero Pages Left Out")
    long zeroPagesLeftOut;
    @Label("Bytes Written")
    @DataAmount
    long bytesWritten;
    @Label("Rounds")
    @Description("Copy rounds while the writers ran (tracked snapshots), the last one during the pause")
    int rounds;
    @Label("Writers Paused")
    @Timespan
    long pauseNanos;
    @Label("Failure")
    String failure;
}
