package io.github.uffd4j.handler;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** JFR: a page the runtime could not serve as asked. */
@Name("io.github.uffd4j.FaultFailure")
@Label("Userfaultfd Fault Failure")
@Category({"uffd4j", "Faults"})
@Description("A page source or fault handler failed, timed out, or a handler thread faulted on its own region")
@StackTrace(false)
final class FaultFailureEvent extends jdk.jfr.Event {
    @Label("Region")
    String region;
    @Label("Offset")
    long offset;
    @Label("Length")
    long length;
    @Label("Kind")
    String kind;
    @Label("Outcome")
    String outcome;
    @Label("Cause")
    String cause;
}
