trigger CustompmsChangeTrigger on Custompms_Change__e(after insert) {
  CustompmsPullJob.enqueueFor(Trigger.new);
}
