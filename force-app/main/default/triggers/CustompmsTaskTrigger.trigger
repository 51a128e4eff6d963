trigger CustompmsTaskTrigger on Task(after delete, after undelete) {
  new CustompmsTaskTriggerHandler().run();
}
