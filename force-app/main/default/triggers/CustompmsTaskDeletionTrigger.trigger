trigger CustompmsTaskDeletionTrigger on Custompms_Task_Deletion__e(after insert) {
  CustompmsDeletionJob.enqueueFor(Trigger.new);
}
