package io.github.uffd4j.pager;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** JFR: the app lost its pager, got it back, or gave up on it (see {@link PagedMemory.PagerEvent}). */
@Name("io.github.uffd4j.PagerConnection")
@Label("Userfaultfd Pager Connection")
@Category({"uffd4j", "Pager"})
@Description("The pager serving this JVM's paged memory died, was replaced, or could not be replaced")
@StackTrace(false)
final class PagerConnectionEvent extends jdk.jfr.Event {
    @Label("Kind")
    String kind;
    @Label("Pager Pid")
    long pagerPid;
    @Label("Detail")
    String detail;
}
