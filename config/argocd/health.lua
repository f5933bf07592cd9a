-- Argo CD health check for every proxmox.pve-operator.io kind (ProxmoxHost,
-- Application, Backup, Restore, BackupSchedule, StagedImage). It follows kstatus, which
-- these kinds implement: status.observedGeneration, and the conditions Ready
-- (summary), Reconciling (working on it) and Stalled (needs a human).
-- Written for Argo CD's sandbox: base and table libraries only (no string.*).
local hs = {status = "Progressing", message = "Waiting for the operator"}

local function condition(t)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == t then
      return c
    end
  end
  return nil
end

local function describe(c)
  local reason = tostring(c.reason)
  if c.message ~= nil and c.message ~= "" then
    return reason .. ": " .. tostring(c.message)
  end
  return reason
end

if obj.metadata.deletionTimestamp ~= nil then
  -- Ready says what holds the deletion up (a lock, protection, the host).
  hs.message = "Deleting"
  local r = condition("Ready")
  if r ~= nil and r.status == "False" then
    hs.message = "Deleting: " .. describe(r)
  end
  return hs
end
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
-- Conditions written for an older generation say nothing about the spec Argo
-- CD just applied: wait until the operator has looked at it.
local generation = tonumber(obj.metadata.generation)
local observed = obj.status.observedGeneration
if observed ~= nil and tonumber(observed) ~= generation then
  -- Still Progressing; say what the operator is doing if it already works
  -- on this generation.
  local r = condition("Reconciling")
  if r ~= nil and r.status == "True" and tonumber(r.observedGeneration) == generation then
    hs.message = describe(r)
  else
    hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  end
  return hs
end

-- Reconciling=True is work towards the spec, first of all, as in kstatus.
local ready = condition("Ready")
local reconciling = condition("Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = describe(reconciling)
  return hs
end
-- Reconciling=False names routine work on an object that is in place (an
-- Application during its own backup): still Healthy, with the activity.
local busy = reconciling ~= nil and reconciling.status == "False"
local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  return {status = "Degraded", message = describe(stalled)}
end
-- A Backup or Restore that failed is final, whatever its conditions say.
if obj.status.phase == "Failed" then
  return {status = "Degraded", message = "Failed"}
end

if ready == nil or ready.status ~= "True" then
  if ready ~= nil then
    hs.message = describe(ready)
  end
  return hs
end
-- Ready: deliberately stopped or paused objects are Suspended, like a
-- paused Deployment or a suspended CronJob.
if obj.kind == "Application" and obj.spec ~= nil and obj.spec.powerState == "Stopped" and obj.status.state == "stopped" then
  return {status = "Suspended", message = "Stopped as declared (spec.powerState: Stopped)"}
end
if obj.kind == "BackupSchedule" and obj.spec ~= nil and obj.spec.suspend == true then
  return {status = "Suspended", message = describe(ready)}
end
if busy then
  return {status = "Healthy", message = describe(ready) .. " (" .. describe(reconciling) .. ")"}
end
return {status = "Healthy", message = describe(ready)}
