/*
 * pdm/power.c - power notifications to every device and driver.
 *
 * Power-on: for each device in construction order, each LUN chain bottom-up (a link
 * is ready before the one above relies on it), then the device; worker threads start
 * after every callback. Power-off: each chain top-down and then the device, or the
 * device first when it registered PDM_DEVREG_F_NOTIFY_FIRST; worker threads are
 * suspended after every callback.
 */
#include "pdm/instance.h"
#include "util/log.h"

static void pdm_chain_power_on(struct pdm_driver *driver)
{
	if (!driver)
		return;
	pdm_chain_power_on(driver->below);
	if (driver->type->reg.power_on)
		driver->type->reg.power_on(&driver->ins);
}

static void pdm_chain_power_off(struct pdm_driver *driver)
{
	for (; driver; driver = driver->below)
		if (driver->type->reg.power_off)
			driver->type->reg.power_off(&driver->ins);
}

void pdm_power_on(struct pdm *pdm)
{
	for (struct pdm_device *device = pdm->devices; device; device = device->next) {
		for (struct pdm_lun *lun = device->luns; lun; lun = lun->next)
			pdm_chain_power_on(lun->top);
		if (device->type->reg.power_on)
			device->type->reg.power_on(&device->ins);
	}
	pdm_threads_resume(pdm);
}

void pdm_power_off(struct pdm *pdm)
{
	for (struct pdm_device *device = pdm->devices; device; device = device->next) {
		bool is_first = device->type->reg.flags & PDM_DEVREG_F_NOTIFY_FIRST;

		if (is_first && device->type->reg.power_off)
			device->type->reg.power_off(&device->ins);
		for (struct pdm_lun *lun = device->luns; lun; lun = lun->next)
			pdm_chain_power_off(lun->top);
		if (!is_first && device->type->reg.power_off)
			device->type->reg.power_off(&device->ins);
	}
	pdm_threads_suspend(pdm);
}
