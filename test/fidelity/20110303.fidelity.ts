import { describeCloudsimDay } from '../sim/cloudsimTable';

describeCloudsimDay('20110303');
